// package server turns HTTP requests on the engine into subscriptions and
// pushes: the edge listener holds subscriber streams, the api listener takes
// publishes and admin requests. One Server is one node (SPEC §2–§4, §7, §9, §10).
// It is the assembly: it puts the layers together (edge, publish, subscribe,
// mesh, h2edge, upgrade: each one's state per node here, per loop in
// loopglue.go, with the glue tables through which a layer calls up), reads the
// configuration, keeps the figures (figures.go), the TLS edge (tls.go) and the
// version, and dispatches each listener's requests (api.go, serveedge.go).
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
	"time"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/h2edge"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/hooks"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
	"github.com/pushwire/pushwire/store"
	"github.com/pushwire/pushwire/subscribe"
	"github.com/pushwire/pushwire/upgrade"
)

// Server is one pushwire node.
type Server struct {
	edge.Node             // the loops' shared state, the engine.Handler (edge/node.go)
	publish.Publisher     // publishing: ids, resolver, router, idempotency keys (publish/publisher.go)
	subscribe.Subscribing // subscribing: the table, the recent store, auth, hooks (subscribe/subscribing.go)
	mesh.Mesh             // the node among its peers: cluster, QoS 1 mailbox, user policy (mesh/mesh.go)
	h2edge.H2             // HTTP/2 on the edge: its figures (h2edge/h2.go)
	upgrade.Upgrader      // zero-downtime upgrades: HandOff, TakeOver (upgrade/upgrader.go)
	loops                 []*loopState

	edgeAddr, apiAddr net.Addr
	tls               edgeTLS // --tls-listen (tls.go)
	capacity          uint64
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
	s := &Server{Node: edge.Node{Cfg: cfg, Log: log, Started: time.Now()}}
	s.Publisher.Init(&s.Node)
	s.Subscribing.Init(&s.Node, &s.IDs)
	s.Mesh.Init(&s.Node, &s.Publisher, &s.Subscribing)
	s.H2.Init(&s.Mesh)
	s.Upgrader.Init(&s.Mesh)
	s.Debug = log.Enabled(context.Background(), slog.LevelDebug)
	s.ID = cfg.NodeID
	if s.ID == "" {
		s.ID = randomHex(6)
	}
	if !push.ValidNodeID([]byte(s.ID)) {
		return nil, fmt.Errorf("--node-id %q: want 1-64 of A-Z a-z 0-9 _ -", s.ID)
	}
	s.IDs.Init(s.ID, 0)
	s.Boundary = []byte("pushwire-" + randomHex(12))
	s.Table = conntable.New(64)
	s.Store = mesh.NewMemoryMailbox(&s.Mesh) // startRedisCluster moves it to Redis
	// Room for a user's unacknowledged messages (no store keeps more than
	// --store-messages) and as many acknowledged ones in their grace.
	s.Sent = store.NewSentLog(2*cfg.StoreMessages, store.MaxSentEntries, cfg.DefaultTTL.Milliseconds())
	s.Recent = store.NewRecent[*edge.Message](cfg.PollBuffer, cfg.TopicHistory, 3*cfg.PollTimeout)
	s.Resolver = route.NewResolver(route.ResolverOptions[*edge.Message]{Table: s.Table, Recent: s.Recent, Lookup: s.LookupConnKey})
	s.PerIP = edge.NewIPCounter(cfg.MaxConnsPerIP)
	s.Rates = edge.NewRateLimiter(cfg.PublishRate)
	var err error
	if s.Auth, err = subscribe.NewAuthorizer(&s.Subscribing); err != nil {
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
	s.Upgrader.TLS, s.Upgrader.Version = s.tls.srv, Version()

	maxBody := cfg.MaxBatchBytes
	eng, err := engine.New(engine.Config{
		Loops:            cfg.Loops,
		MaxInboundBytes:  maxBody + cfg.MaxHeaderBytes + 4096,
		WriteBufferLimit: cfg.WriteBufferLimit,
		SendBufferBytes:  cfg.SendBufferBytes,
		TickInterval:     edge.TickInterval(cfg),
		// A peer gone without FIN or RST (SPEC §3) is found through the
		// heartbeats: one is written within a heartbeat of silence, and if
		// it stays unacknowledged for another the kernel aborts the
		// connection — removed within two heartbeat intervals.
		UserTimeout: cfg.Heartbeat,
		Logger:      log,
		// s.metrics is made below, before the engine starts accepting.
		OnTLSHandshake: func(took time.Duration) { s.Metrics.ObserveTLSHandshake(took) },
	}, &s.Node)
	if err != nil {
		return nil, err
	}
	s.Eng = eng
	s.loops = make([]*loopState, eng.Loops())
	s.Node.Loops = make([]*edge.Loop, eng.Loops())
	for i := range s.loops {
		s.Node.Loops[i] = edge.NewLoop(&s.Node, i)
		s.loops[i] = newLoopState(s, s.Node.Loops[i])
	}
	s.Node.Glue = s.makeGlue()
	s.PubGlue = s.makePubGlue()
	s.SubGlue = s.makeSubGlue()
	s.MeshGlue = s.makeMeshGlue()
	s.Metrics = admin.NewMetrics(len(s.loops), Version())
	if cfg.HookURL != "" { // last: it starts a goroutine
		if s.Hooks, err = hooks.New(hooks.Options{URL: cfg.HookURL, Queue: cfg.HookQueue, Logger: log}); err != nil {
			eng.Stop() // its epoll and eventfds
			return nil, fmt.Errorf("--hook-url: %w", err)
		}
	}
	return s, nil
}

// Start binds the edge and api listeners and starts the loops.
func (s *Server) Start() error {
	var err error
	if s.Cfg.Listen != "" {
		if s.edgeAddr, err = s.Eng.Listen(s.Cfg.Listen, edge.ListenerEdge); err != nil {
			return fmt.Errorf("--listen %s: %w", s.Cfg.Listen, err)
		}
	}
	if err := s.tls.listen(s); err != nil {
		return err
	}
	if s.apiAddr, err = s.Eng.Listen(s.Cfg.APIListen, edge.ListenerAPI); err != nil {
		return fmt.Errorf("--api-listen %s: %w", s.Cfg.APIListen, err)
	}
	if s.Cluster, err = mesh.StartCluster(&s.Mesh); err != nil {
		return err
	}
	s.Idem = s.Cluster.Idem
	if err := s.Eng.Start(); err != nil {
		return err
	}
	s.Running.Store(true)
	go s.sweep()
	s.Log.Info("pushwire started", "node", s.ID, "edge", addrString(s.edgeAddr),
		"api", s.apiAddr.String(), "tls", addrString(s.tls.addr), "loops", len(s.loops), "capacity", s.capacity)
	return nil
}

// TakeOver starts the node from a handoff on c instead of opening listeners
// (upgrade.Upgrader.TakeOver): it adopts the old process's listeners and
// connections, says ready, and serves once the old process lets go. On an
// error the old process keeps everything; the caller must exit without Close
// (which would leave the cluster the old process is still in).
func (s *Server) TakeOver(c *net.UnixConn, deadline time.Time) (handoff.Meta, error) {
	meta, err := s.Upgrader.TakeOver(c, deadline)
	if err != nil {
		return meta, err
	}
	s.edgeAddr, s.apiAddr, s.tls.addr = s.Taken.Edge, s.Taken.API, s.Taken.TLS
	s.Cluster.TakenOver() // the directory's re-sync, left out of the pause
	go s.sweep()
	s.Log.Info("pushwire took over", "node", s.ID, "from_version", meta.Version, "version", Version(),
		"connections", s.Adopted, "edge", addrString(s.edgeAddr), "api", addrString(s.apiAddr))
	return meta, nil
}

// EdgeAddr is the bound edge listener address (useful with port 0).
func (s *Server) EdgeAddr() net.Addr { return s.edgeAddr }

// APIAddr is the bound api listener address.
func (s *Server) APIAddr() net.Addr { return s.apiAddr }

// NodeID is this node's id.
func (s *Server) NodeID() string { return s.ID }

// Drain does SPEC §10: readyz turns 503, no new accepts, every stream gets a
// reconnect frame and is closed; it returns when the edge holds no connection
// or ctx ends. Close must still be called.
func (s *Server) Drain(ctx context.Context) error {
	if !s.Draining.CompareAndSwap(false, true) {
		return errors.New("server: already draining")
	}
	// Only the edge stops accepting: health checkers dial /readyz anew and
	// must read 503, and publishers may still reach the streams that remain.
	s.Eng.StopAccepting(edge.ListenerEdge)
	for i := range s.loops {
		s.Eng.Submit(i, engine.Task{Op: edge.OpDrain})
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.EdgeConns.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: drain ended with %d connections open: %w", s.EdgeConns.Load(), ctx.Err())
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
		s.Eng.Stop()
		if s.Cluster != nil { // nil when Start failed before reaching it
			s.Cluster.Close()
		}
		if s.Auth != nil {
			s.Auth.Close()
		}
		if s.Hooks != nil {
			// The streams' disconnect events, queued as the loops stopped,
			// get a few seconds to reach the hook.
			ctx, cancel := context.WithTimeout(context.Background(), hookFlushOnClose)
			s.Hooks.Close(ctx)
			cancel()
		}
		close(s.Stopped)
	})
}

// sweep forgets long-poll buffers nobody asked for lately, until Close.
func (s *Server) sweep() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.Stopped:
			return
		case now := <-t.C:
			s.Recent.Sweep(now)
			s.Sent.Sweep(now.UnixMilli())
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
