package admin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/hooks"
	"github.com/pushwire/pushwire/httpcodec"
)

// Snapshot is one reading of every figure, so /stats and /metrics agree.
// The glue fills it (server/figures.go).
type Snapshot struct {
	Connections, Users, Topics       int
	EdgeConns                        int64
	MessagesIn, MessagesOut, Drops   uint64
	SlowConsumers, Subscribes, Polls uint64
	Acks                             uint64
	Duplicates, IdemEvicted          uint64
	PeersGone                        uint64
	TLSHandshakes, TLSFailures       int64 // --tls-listen (engine counts them)
	Forwards, Received               uint64
	Dir                              cluster.DirStats
	StoredUsers, StoredBytes         int
	AuthDenied, AuthFailed           uint64
	Hook                             hooks.Stats
	Goroutines                       int
	Uptime                           time.Duration
	Draining                         bool

	// HTTP/2 (h2edge/conn.go)
	H2Conns       int64
	H2SlowStreams uint64

	// --max-conns-per-user (userpolicy/admission.go)
	UserConnsRefused, UserConnsKicked uint64
	AgeCloses, Refreshes, Expiries    uint64 // stream lifetime (subscribe/lifetime.go)

	// The node and its upgrades (upgrade/handoff.go)
	Loops, Capacity                      int
	Version                              string
	Upgrades, UpgradesFailed, Reconnects uint64
	Upgrading                            bool
}

// AppendStats appends the /stats JSON object (SPEC §9) of node.
func AppendStats(dst []byte, node string, sn *Snapshot) []byte {
	dst = append(dst, `{"node":"`...)
	dst = append(dst, node...)
	dst = append(dst, '"')
	field := func(name string, v int64) {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		dst = strconv.AppendInt(dst, v, 10)
	}
	field("connections", int64(sn.Connections))
	field("edge_connections", sn.EdgeConns)
	field("users", int64(sn.Users))
	field("topics", int64(sn.Topics))
	field("messages_in", int64(sn.MessagesIn))
	field("messages_out", int64(sn.MessagesOut))
	field("forwards", int64(sn.Forwards))
	field("forwards_received", int64(sn.Received))
	field("drops", int64(sn.Drops))
	field("slow_consumers", int64(sn.SlowConsumers))
	field("subscribes", int64(sn.Subscribes))
	field("polls", int64(sn.Polls))
	field("acks", int64(sn.Acks))
	field("duplicates", int64(sn.Duplicates))
	field("idempotency_keys_evicted", int64(sn.IdemEvicted))
	field("peers_gone", int64(sn.PeersGone))
	field("tls_handshakes", sn.TLSHandshakes)
	field("tls_handshake_failures", sn.TLSFailures)
	field("stored_users", int64(sn.StoredUsers))
	field("stored_bytes", int64(sn.StoredBytes))
	field("auth_denied", int64(sn.AuthDenied))
	field("auth_failures", int64(sn.AuthFailed))
	field("hook_events_sent", int64(sn.Hook.Sent))
	field("hook_events_dropped", int64(sn.Hook.Dropped))
	field("hook_events_queued", int64(sn.Hook.Queued))
	field("hook_post_failures", int64(sn.Hook.Failed))
	field("goroutines", int64(sn.Goroutines))
	field("loops", int64(sn.Loops))
	field("capacity", int64(sn.Capacity))
	field("uptime_seconds", int64(sn.Uptime.Seconds()))
	field("h2_connections", sn.H2Conns)
	field("h2_slow_streams", int64(sn.H2SlowStreams))
	field("user_conns_refused", int64(sn.UserConnsRefused))
	field("user_conns_kicked", int64(sn.UserConnsKicked))
	field("max_age_closes", int64(sn.AgeCloses))
	field("refreshes", int64(sn.Refreshes))
	field("expiries", int64(sn.Expiries))
	dst = append(dst, `,"draining":`...)
	dst = strconv.AppendBool(dst, sn.Draining)
	dst = append(dst, `,"version":`...)
	dst = httpcodec.AppendJSONString(dst, []byte(sn.Version))
	dst = fmt.Appendf(dst, `,"upgrades":%d,"upgrades_failed":%d,"upgrade_reconnects":%d,"upgrading":%t`,
		sn.Upgrades, sn.UpgradesFailed, sn.Reconnects, sn.Upgrading)
	return append(dst, '}')
}

// AppendFigures appends the Prometheus text exposition of the same figures,
// the first part of /metrics (Metrics.Write writes the rest).
func AppendFigures(dst []byte, sn *Snapshot) []byte {
	metric := func(name, kind, help string, v float64) {
		dst = append(dst, "# HELP pushwire_"...)
		dst = append(dst, name...)
		dst = append(dst, ' ')
		dst = append(dst, help...)
		dst = append(dst, "\n# TYPE pushwire_"...)
		dst = append(dst, name...)
		dst = append(dst, ' ')
		dst = append(dst, kind...)
		dst = append(dst, "\npushwire_"...)
		dst = append(dst, name...)
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
		dst = append(dst, '\n')
	}
	metric("connections", "gauge", "Subscriber connections held (streams and waiting long-polls).", float64(sn.Connections))
	metric("edge_connections", "gauge", "Open connections on the edge listener.", float64(sn.EdgeConns))
	metric("users", "gauge", "Users with at least one connection.", float64(sn.Users))
	metric("topics", "gauge", "Topics with at least one subscriber.", float64(sn.Topics))
	metric("messages_in_total", "counter", "Messages published to this node.", float64(sn.MessagesIn))
	metric("messages_out_total", "counter", "Frames of messages written to subscribers.", float64(sn.MessagesOut))
	metric("forwards_total", "counter", "Messages forwarded to other nodes.", float64(sn.Forwards))
	metric("forwards_received_total", "counter", "Messages other nodes forwarded here.", float64(sn.Received))
	metric("directory_cache_hits_total", "counter", "Directory reads answered by the Redis client-side cache (cluster mode).", float64(sn.Dir.CacheHits))
	metric("directory_cache_misses_total", "counter", "Directory reads that had to ask Redis (cluster mode).", float64(sn.Dir.CacheMisses))
	metric("drops_total", "counter", "Connections cut as slow consumers.", float64(sn.Drops))
	metric("subscribes_total", "counter", "Streams started.", float64(sn.Subscribes))
	metric("polls_total", "counter", "Long-poll requests.", float64(sn.Polls))
	metric("h2_connections", "gauge", "HTTP/2 edge connections open.", float64(sn.H2Conns))
	metric("h2_slow_streams_total", "counter", "HTTP/2 streams reset as slow consumers (their window stayed shut).", float64(sn.H2SlowStreams))
	metric("max_age_closes_total", "counter", "Streams ended by --max-conn-age with the reconnect frame.", float64(sn.AgeCloses))
	metric("refreshes_total", "counter", "Refresh frames sent: a stream's token or auth callback ttl ends within --refresh-before.", float64(sn.Refreshes))
	metric("expiries_total", "counter", "Streams closed as their token or auth callback ttl ended.", float64(sn.Expiries))
	metric("acks_total", "counter", "Acknowledgements received.", float64(sn.Acks))
	metric("duplicates_total", "counter", "Publishes not delivered: their idempotency key was seen within the window.", float64(sn.Duplicates))
	metric("idempotency_keys_evicted_total", "counter", "Idempotency keys dropped unexpired: the in-memory map was full.", float64(sn.IdemEvicted))
	metric("peers_gone_total", "counter", "Times a peer node was found gone for routing (its link refused or reset).", float64(sn.PeersGone))
	metric("tls_handshakes_total", "counter", "TLS handshakes completed on --tls-listen.", float64(sn.TLSHandshakes))
	metric("tls_handshake_failures_total", "counter", "TLS connections closed in their handshake: not TLS, refused or failed.", float64(sn.TLSFailures))
	metric("stored_bytes", "gauge", "Bytes of QoS 1 messages kept.", float64(sn.StoredBytes))
	metric("auth_denied_total", "counter", "Subscribes refused by auth (401, 403).", float64(sn.AuthDenied))
	metric("auth_failures_total", "counter", "Subscribes the auth callback gave no usable answer for (502).", float64(sn.AuthFailed))
	metric("user_conns_refused_total", "counter", "Subscribes refused 409: their user held --max-conns-per-user streams (refuse).", float64(sn.UserConnsRefused))
	metric("user_conns_kicked_total", "counter", "Streams of this node kicked for a newer stream of their user (oldest-out).", float64(sn.UserConnsKicked))
	metric("hook_events_sent_total", "counter", "Lifecycle events --hook-url accepted.", float64(sn.Hook.Sent))
	metric("hook_events_dropped_total", "counter", "Lifecycle events dropped: the hook queue was full.", float64(sn.Hook.Dropped))
	metric("hook_events_queued", "gauge", "Lifecycle events waiting for --hook-url.", float64(sn.Hook.Queued))
	metric("hook_post_failures_total", "counter", "POSTs to --hook-url that failed (each is retried).", float64(sn.Hook.Failed))
	metric("goroutines", "gauge", "Goroutines of the process.", float64(sn.Goroutines))
	draining := 0.0
	if sn.Draining {
		draining = 1
	}
	metric("draining", "gauge", "1 while the node drains.", draining)
	metric("upgrades_total", "counter", "Zero-downtime upgrades this node went through (carried from process to process).", float64(sn.Upgrades))
	metric("upgrades_failed_total", "counter", "Upgrades that failed: the old process kept its connections (carried from process to process).", float64(sn.UpgradesFailed))
	metric("upgrade_reconnects_total", "counter", "Streams told to reconnect at an upgrade because their transport state could not move (carried from process to process).", float64(sn.Reconnects))
	return dst
}
