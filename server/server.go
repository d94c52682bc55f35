// Package server turns HTTP requests on the engine into subscriptions and
// pushes: the edge listener holds subscriber streams, the api listener takes
// publishes and admin requests. One Server is one node (SPEC §2–§4, §7, §9, §10).
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/hooks"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
	"github.com/pushwire/pushwire/store"
)

// Listener tags given to engine.Listen.
const (
	listenerEdge = 0
	listenerAPI  = 1
)

// Server is one pushwire node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	nodeID   string
	boundary []byte // multipart boundary, one per node so frames are shared

	eng    *engine.Engine
	table  *conntable.Table
	loops  []*loopState
	store  *qosMailbox    // QoS 1 messages per user, in memory or Redis (mailbox.go)
	sent   *store.SentLog // QoS 1 messages written and not acknowledged: what an ack may remove
	recent *store.Recent[*message]
	perIP  *ipCounter
	rates  *rateLimiter

	// resolver resolves a push to this node's subscribers and fans it out:
	// local publishes (publish.go) and pushes taken from peers (take.go).
	resolver *route.Resolver[*message]

	cluster *clusterNode      // the directory and links: in memory when standalone
	idem    admit.Idempotency // Idempotency-Key claims and answers (idempotency.go)
	idemMem *admit.IdemMemory // idem when it is in memory; nil with Redis
	auth    *authorizer       // subscriber auth (SPEC §6); nil when none is configured
	hooks   *hooks.Sender     // lifecycle webhooks (SPEC §6); nil without --hook-url
	// debug caches log.Enabled(debug): a disabled slog call still boxes its
	// arguments, an allocation per message on the hot path.
	debug bool

	ids       push.IDs // message ids
	edgeConns atomic.Int64
	draining  atomic.Bool
	running   atomic.Bool // the loops run: tasks submitted to them are taken
	counters  counters
	metrics   *admin.Metrics // histograms and counters of /metrics (admin/metrics.go)
	up        upgradeState   // zero-downtime upgrades (handoff.go)

	edgeAddr, apiAddr net.Addr
	tls               edgeTLS // --tls-listen (tls.go)
	capacity          uint64
	started           time.Time
	stopped           chan struct{}
	closeOnce         sync.Once
}

// New validates cfg and prepares a node; Start opens its listeners.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, started: time.Now(), stopped: make(chan struct{})}
	s.debug = log.Enabled(context.Background(), slog.LevelDebug)
	s.nodeID = cfg.NodeID
	if s.nodeID == "" {
		s.nodeID = randomHex(6)
	}
	if !push.ValidNodeID([]byte(s.nodeID)) {
		return nil, fmt.Errorf("--node-id %q: want 1-64 of A-Z a-z 0-9 _ -", s.nodeID)
	}
	s.ids.Init(s.nodeID, 0)
	s.boundary = []byte("pushwire-" + randomHex(12))
	s.table = conntable.New(64)
	s.store = newMemoryMailbox(s) // startRedisCluster moves it to Redis
	// Room for a user's unacknowledged messages (no store keeps more than
	// --store-messages) and as many acknowledged ones in their grace.
	s.sent = store.NewSentLog(2*cfg.StoreMessages, store.MaxSentEntries, cfg.DefaultTTL.Milliseconds())
	s.recent = store.NewRecent[*message](cfg.PollBuffer, cfg.TopicHistory, 3*cfg.PollTimeout)
	s.resolver = route.NewResolver(route.ResolverOptions[*message]{Table: s.table, Recent: s.recent, Lookup: s.lookupConnKey})
	s.perIP = newIPCounter(cfg.MaxConnsPerIP)
	s.rates = newRateLimiter(cfg.PublishRate)
	var err error
	if s.auth, err = newAuthorizer(s); err != nil {
		return nil, err
	}
	limit, err := engine.RaiseOpenFilesLimit()
	if err != nil {
		log.Warn("could not raise the open-files limit", "err", err)
	}
	s.capacity = limit
	if err := s.tls.load(cfg); err != nil {
		return nil, err
	}

	maxBody := cfg.MaxBatchBytes
	eng, err := engine.New(engine.Config{
		Loops:            cfg.Loops,
		MaxInboundBytes:  maxBody + cfg.MaxHeaderBytes + 4096,
		WriteBufferLimit: cfg.WriteBufferLimit,
		SendBufferBytes:  cfg.SendBufferBytes,
		TickInterval:     tickInterval(cfg),
		// A peer gone without FIN or RST (SPEC §3) is found through the
		// heartbeats: one is written within a heartbeat of silence, and if
		// it stays unacknowledged for another the kernel aborts the
		// connection — removed within two heartbeat intervals.
		UserTimeout: cfg.Heartbeat,
		Logger:      log,
		// s.metrics is made below, before the engine starts accepting.
		OnTLSHandshake: func(took time.Duration) { s.metrics.ObserveTLSHandshake(took) },
	}, s)
	if err != nil {
		return nil, err
	}
	s.eng = eng
	s.loops = make([]*loopState, eng.Loops())
	s.up.loops = make([]loopUpgrade, eng.Loops())
	for i := range s.loops {
		s.loops[i] = newLoopState(s, i)
	}
	s.metrics = admin.NewMetrics(len(s.loops), Version())
	if cfg.HookURL != "" { // last: it starts a goroutine
		if s.hooks, err = hooks.New(hooks.Options{URL: cfg.HookURL, Queue: cfg.HookQueue, Logger: log}); err != nil {
			eng.Stop() // its epoll and eventfds
			return nil, fmt.Errorf("--hook-url: %w", err)
		}
	}
	return s, nil
}

// tickInterval is the timing-wheel resolution: fine enough for the shortest
// timeout configured, never busier than every 10ms.
func tickInterval(cfg Config) time.Duration {
	tick := 100 * time.Millisecond
	for _, d := range []time.Duration{cfg.Heartbeat, cfg.HeaderTimeout, cfg.PollTimeout} {
		if d/10 < tick {
			tick = d / 10
		}
	}
	return max(tick, 10*time.Millisecond)
}

// Start binds the edge and api listeners and starts the loops.
func (s *Server) Start() error {
	var err error
	if s.cfg.Listen != "" {
		if s.edgeAddr, err = s.eng.Listen(s.cfg.Listen, listenerEdge); err != nil {
			return fmt.Errorf("--listen %s: %w", s.cfg.Listen, err)
		}
	}
	if err := s.tls.listen(s); err != nil {
		return err
	}
	if s.apiAddr, err = s.eng.Listen(s.cfg.APIListen, listenerAPI); err != nil {
		return fmt.Errorf("--api-listen %s: %w", s.cfg.APIListen, err)
	}
	if s.cluster, err = startCluster(s); err != nil {
		return err
	}
	s.idem = s.cluster.idem
	if err := s.eng.Start(); err != nil {
		return err
	}
	s.running.Store(true)
	go s.sweep()
	s.log.Info("pushwire started", "node", s.nodeID, "edge", addrString(s.edgeAddr),
		"api", s.apiAddr.String(), "tls", addrString(s.tls.addr), "loops", len(s.loops), "capacity", s.capacity)
	return nil
}

// EdgeAddr is the bound edge listener address (useful with port 0).
func (s *Server) EdgeAddr() net.Addr { return s.edgeAddr }

// APIAddr is the bound api listener address.
func (s *Server) APIAddr() net.Addr { return s.apiAddr }

// NodeID is this node's id.
func (s *Server) NodeID() string { return s.nodeID }

// Drain does SPEC §10: readyz turns 503, no new accepts, every stream gets a
// reconnect frame and is closed; it returns when the edge holds no connection
// or ctx ends. Close must still be called.
func (s *Server) Drain(ctx context.Context) error {
	if !s.draining.CompareAndSwap(false, true) {
		return errors.New("server: already draining")
	}
	// Only the edge stops accepting: health checkers dial /readyz anew and
	// must read 503, and publishers may still reach the streams that remain.
	s.eng.StopAccepting(listenerEdge)
	for i := range s.loops {
		s.eng.Submit(i, engine.Task{Op: opDrain})
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.edgeConns.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: drain ended with %d connections open: %w", s.edgeConns.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// hookFlushOnClose bounds how long Close waits for the last hook events.
const hookFlushOnClose = 5 * time.Second

// Close leaves the cluster, closes every connection and stops the loops.
// Calls after the first do nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// The loops stop first: none may hand the router a job after it closes.
		s.eng.Stop()
		if s.cluster != nil { // nil when Start failed before reaching it
			s.cluster.close()
		}
		if s.auth != nil {
			s.auth.close()
		}
		if s.hooks != nil {
			// The streams' disconnect events, queued as the loops stopped,
			// get a few seconds to reach the hook.
			ctx, cancel := context.WithTimeout(context.Background(), hookFlushOnClose)
			s.hooks.Close(ctx)
			cancel()
		}
		close(s.stopped)
	})
}

// sweep forgets long-poll buffers nobody asked for lately, until Close.
func (s *Server) sweep() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopped:
			return
		case now := <-t.C:
			s.recent.Sweep(now)
			s.sent.Sweep(now.UnixMilli())
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
