package server

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/hooks"
)

// counters are the node-wide totals /stats and /metrics report.
type counters struct {
	messagesIn atomic.Uint64
	subscribes atomic.Uint64
	polls      atomic.Uint64
	acks       atomic.Uint64
	duplicates atomic.Uint64 // publishes answered "duplicate": their idempotency key was seen

	// HTTP/2 (h2conn.go)
	h2Conns       atomic.Int64  // HTTP/2 connections open
	h2SlowStreams atomic.Uint64 // streams reset as slow consumers

	// Stream lifetime (lifetime.go)
	ageCloses atomic.Uint64 // streams ended by --max-conn-age
	refreshes atomic.Uint64 // refresh frames sent (auth expiring)
	expiries  atomic.Uint64 // streams ended as their auth expired
}

// snapshot is one reading of every figure, so /stats and /metrics agree.
type snapshot struct {
	connections, users, topics       int
	edgeConns                        int64
	messagesIn, messagesOut, drops   uint64
	slowConsumers, subscribes, polls uint64
	acks                             uint64
	duplicates, idemEvicted          uint64
	peersGone                        uint64
	tlsHandshakes, tlsFailures       int64 // --tls-listen (engine counts them)
	forwards, received               uint64
	dir                              cluster.DirStats
	storedUsers, storedBytes         int
	authDenied, authFailed           uint64
	hook                             hooks.Stats
	goroutines                       int
	uptime                           time.Duration
	draining                         bool

	// HTTP/2 (h2conn.go)
	h2Conns       int64
	h2SlowStreams uint64

	ageCloses, refreshes, expiries uint64 // stream lifetime (lifetime.go)
}

func (s *Server) snapshot() snapshot {
	var sn snapshot
	sn.users, sn.topics = s.table.Counts()
	for _, ls := range s.loops {
		sn.connections += int(ls.subscribers.Load())
	}
	sn.edgeConns = s.edgeConns.Load()
	sn.messagesIn = s.counters.messagesIn.Load()
	sn.subscribes = s.counters.subscribes.Load()
	sn.polls = s.counters.polls.Load()
	sn.acks = s.counters.acks.Load()
	sn.duplicates = s.counters.duplicates.Load()
	sn.peersGone = s.cluster.links.Stats().Gone
	if s.idemMem != nil {
		sn.idemEvicted = s.idemMem.Evicted()
	}
	for _, ls := range s.loops {
		sn.messagesOut += ls.messagesOut.Load()
		sn.drops += ls.drops.Load()
	}
	es := s.eng.Stats()
	sn.slowConsumers = uint64(es.SlowConsumers)
	sn.tlsHandshakes, sn.tlsFailures = es.TLSHandshakes, es.TLSHandshakeErrors
	sn.storedUsers, sn.storedBytes = s.store.counts()
	sn.goroutines = runtime.NumGoroutine()
	sn.uptime = time.Since(s.started)
	sn.draining = s.draining.Load()
	sn.h2Conns, sn.h2SlowStreams = s.counters.h2Conns.Load(), s.counters.h2SlowStreams.Load()
	sn.ageCloses, sn.refreshes, sn.expiries = s.counters.ageCloses.Load(), s.counters.refreshes.Load(), s.counters.expiries.Load()
	sn.forwards, sn.received = s.cluster.forwards.Load(), s.cluster.received.Load()
	sn.dir = s.cluster.dir.Stats()
	if s.auth != nil {
		sn.authDenied, sn.authFailed = s.auth.denied.Load(), s.auth.failed.Load()
	}
	if s.hooks != nil {
		sn.hook = s.hooks.Stats()
	}
	return sn
}

// appendStats appends the /stats JSON object (SPEC §9).
func (s *Server) appendStats(dst []byte) []byte {
	sn := s.snapshot()
	dst = append(dst, `{"node":"`...)
	dst = append(dst, s.nodeID...)
	dst = append(dst, '"')
	field := func(name string, v int64) {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		dst = strconv.AppendInt(dst, v, 10)
	}
	field("connections", int64(sn.connections))
	field("edge_connections", sn.edgeConns)
	field("users", int64(sn.users))
	field("topics", int64(sn.topics))
	field("messages_in", int64(sn.messagesIn))
	field("messages_out", int64(sn.messagesOut))
	field("forwards", int64(sn.forwards))
	field("forwards_received", int64(sn.received))
	field("drops", int64(sn.drops))
	field("slow_consumers", int64(sn.slowConsumers))
	field("subscribes", int64(sn.subscribes))
	field("polls", int64(sn.polls))
	field("acks", int64(sn.acks))
	field("duplicates", int64(sn.duplicates))
	field("idempotency_keys_evicted", int64(sn.idemEvicted))
	field("peers_gone", int64(sn.peersGone))
	field("tls_handshakes", sn.tlsHandshakes)
	field("tls_handshake_failures", sn.tlsFailures)
	field("stored_users", int64(sn.storedUsers))
	field("stored_bytes", int64(sn.storedBytes))
	field("auth_denied", int64(sn.authDenied))
	field("auth_failures", int64(sn.authFailed))
	field("hook_events_sent", int64(sn.hook.Sent))
	field("hook_events_dropped", int64(sn.hook.Dropped))
	field("hook_events_queued", int64(sn.hook.Queued))
	field("hook_post_failures", int64(sn.hook.Failed))
	field("goroutines", int64(sn.goroutines))
	field("loops", int64(len(s.loops)))
	field("capacity", int64(s.capacity))
	field("uptime_seconds", int64(sn.uptime.Seconds()))
	field("h2_connections", sn.h2Conns)
	field("h2_slow_streams", int64(sn.h2SlowStreams))
	field("max_age_closes", int64(sn.ageCloses))
	field("refreshes", int64(sn.refreshes))
	field("expiries", int64(sn.expiries))
	dst = append(dst, `,"draining":`...)
	dst = strconv.AppendBool(dst, sn.draining)
	dst = s.appendUpgradeStats(dst)
	return append(dst, '}')
}

// appendFigures appends the Prometheus text exposition of the same figures,
// the first part of /metrics (metrics.go writes the rest).
func (s *Server) appendFigures(dst []byte) []byte {
	sn := s.snapshot()
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
	metric("connections", "gauge", "Subscriber connections held (streams and waiting long-polls).", float64(sn.connections))
	metric("edge_connections", "gauge", "Open connections on the edge listener.", float64(sn.edgeConns))
	metric("users", "gauge", "Users with at least one connection.", float64(sn.users))
	metric("topics", "gauge", "Topics with at least one subscriber.", float64(sn.topics))
	metric("messages_in_total", "counter", "Messages published to this node.", float64(sn.messagesIn))
	metric("messages_out_total", "counter", "Frames of messages written to subscribers.", float64(sn.messagesOut))
	metric("forwards_total", "counter", "Messages forwarded to other nodes.", float64(sn.forwards))
	metric("forwards_received_total", "counter", "Messages other nodes forwarded here.", float64(sn.received))
	metric("directory_cache_hits_total", "counter", "Directory reads answered by the Redis client-side cache (cluster mode).", float64(sn.dir.CacheHits))
	metric("directory_cache_misses_total", "counter", "Directory reads that had to ask Redis (cluster mode).", float64(sn.dir.CacheMisses))
	metric("drops_total", "counter", "Connections cut as slow consumers.", float64(sn.drops))
	metric("subscribes_total", "counter", "Streams started.", float64(sn.subscribes))
	metric("polls_total", "counter", "Long-poll requests.", float64(sn.polls))
	metric("h2_connections", "gauge", "HTTP/2 edge connections open.", float64(sn.h2Conns))
	metric("h2_slow_streams_total", "counter", "HTTP/2 streams reset as slow consumers (their window stayed shut).", float64(sn.h2SlowStreams))
	metric("max_age_closes_total", "counter", "Streams ended by --max-conn-age with the reconnect frame.", float64(sn.ageCloses))
	metric("refreshes_total", "counter", "Refresh frames sent: a stream's token or auth callback ttl ends within --refresh-before.", float64(sn.refreshes))
	metric("expiries_total", "counter", "Streams closed as their token or auth callback ttl ended.", float64(sn.expiries))
	metric("acks_total", "counter", "Acknowledgements received.", float64(sn.acks))
	metric("duplicates_total", "counter", "Publishes not delivered: their idempotency key was seen within the window.", float64(sn.duplicates))
	metric("idempotency_keys_evicted_total", "counter", "Idempotency keys dropped unexpired: the in-memory map was full.", float64(sn.idemEvicted))
	metric("peers_gone_total", "counter", "Times a peer node was found gone for routing (its link refused or reset).", float64(sn.peersGone))
	metric("tls_handshakes_total", "counter", "TLS handshakes completed on --tls-listen.", float64(sn.tlsHandshakes))
	metric("tls_handshake_failures_total", "counter", "TLS connections closed in their handshake: not TLS, refused or failed.", float64(sn.tlsFailures))
	metric("stored_bytes", "gauge", "Bytes of QoS 1 messages kept.", float64(sn.storedBytes))
	metric("auth_denied_total", "counter", "Subscribes refused by auth (401, 403).", float64(sn.authDenied))
	metric("auth_failures_total", "counter", "Subscribes the auth callback gave no usable answer for (502).", float64(sn.authFailed))
	metric("hook_events_sent_total", "counter", "Lifecycle events --hook-url accepted.", float64(sn.hook.Sent))
	metric("hook_events_dropped_total", "counter", "Lifecycle events dropped: the hook queue was full.", float64(sn.hook.Dropped))
	metric("hook_events_queued", "gauge", "Lifecycle events waiting for --hook-url.", float64(sn.hook.Queued))
	metric("hook_post_failures_total", "counter", "POSTs to --hook-url that failed (each is retried).", float64(sn.hook.Failed))
	metric("goroutines", "gauge", "Goroutines of the process.", float64(sn.goroutines))
	draining := 0.0
	if sn.draining {
		draining = 1
	}
	metric("draining", "gauge", "1 while the node drains.", draining)
	metric("upgrades_total", "counter", "Zero-downtime upgrades this node went through (carried from process to process).", float64(s.up.count.Load()))
	metric("upgrades_failed_total", "counter", "Upgrades that failed: the old process kept its connections (carried from process to process).", float64(s.up.failed.Load()))
	metric("upgrade_reconnects_total", "counter", "Streams told to reconnect at an upgrade because their transport state could not move (carried from process to process).", float64(s.up.reconnects.Load()))
	return dst
}
