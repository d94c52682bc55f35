package server

import (
	"bytes"
	"runtime"
	"time"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
)

// The loop's side of /stats and /metrics: the snapshot the glue reads of the
// layers' counters, and the observations made while serving; the
// figures' formats and histograms are admin's (admin/stats.go,
// admin/metrics.go).

// snapshot reads every figure once, for /stats and /metrics (admin/stats.go).
func (s *Server) snapshot() admin.Snapshot {
	var sn admin.Snapshot
	sn.Users, sn.Topics = s.Table.Counts()
	for _, ls := range s.loops {
		sn.Connections += int(ls.Subscribers.Load())
	}
	sn.EdgeConns = s.EdgeConns.Load()
	sn.MessagesIn = s.MessagesIn.Load()
	sn.Subscribes = s.Subscribes.Load()
	sn.Polls = s.Polls.Load()
	sn.Acks = s.Acks.Load()
	sn.Duplicates = s.Duplicates.Load()
	sn.PeersGone = s.Cluster.Links.Stats().Gone
	if s.IdemMem != nil {
		sn.IdemEvicted = s.IdemMem.Evicted()
	}
	for _, ls := range s.loops {
		sn.MessagesOut += ls.MessagesOut.Load()
		sn.Drops += ls.Drops.Load()
	}
	es := s.Eng.Stats()
	sn.SlowConsumers = uint64(es.SlowConsumers) + s.H2SlowConns.Load() // HTTP/2 connections are cut above the engine
	sn.TLSHandshakes, sn.TLSFailures = es.TLSHandshakes, es.TLSHandshakeErrors
	sn.StoredUsers, sn.StoredBytes = s.Store.Counts()
	sn.Goroutines = runtime.NumGoroutine()
	sn.Uptime = time.Since(s.Started)
	sn.Draining = s.Draining.Load()
	sn.H2Conns, sn.H2SlowStreams = s.H2Conns.Load(), s.H2SlowStreams.Load()
	sn.UserConnsRefused, sn.UserConnsKicked = s.Policy.UserRefused.Load(), s.Policy.UserEvicted.Load()
	sn.AgeCloses, sn.Refreshes, sn.Expiries = s.AgeCloses.Load(), s.Refreshes.Load(), s.Expiries.Load()
	sn.Forwards, sn.Received = s.Forwards.Load(), s.Cluster.Received.Load()
	sn.Dir = s.Cluster.Dir.Stats()
	if s.Auth != nil {
		sn.AuthDenied, sn.AuthFailed = s.Auth.Denied.Load(), s.Auth.Failed.Load()
	}
	if s.Hooks != nil {
		sn.Hook = s.Hooks.Stats()
	}
	sn.Loops, sn.Capacity = len(s.loops), int(s.capacity)
	sn.Version = Version()
	sn.Upgrades, sn.UpgradesFailed, sn.Reconnects, sn.Upgrading = s.Upgrader.Figures()
	return sn
}

// appendStats appends the /stats JSON object (SPEC §9).
func (s *Server) appendStats(dst []byte) []byte {
	sn := s.snapshot()
	return admin.AppendStats(dst, s.ID, &sn)
}

// recordDelay records m's delivery delay on this loop, once per message:
// the first subscriber it is written to here stands for the rest, which
// follow in the same loop iteration and are flushed with it.
func (ls *loopState) recordDelay(m *edge.Message) {
	ls.s.Metrics.ObserveDelay(ls.Index, m.Seq, m.Born)
}

// publishServed runs after serveAPI handled a request for path: for a
// publish it records the handling time and the answer's status, or, when the
// answer is made off the loop, when the request was read (publishAnswered
// finishes it). A batch answered 200 here had its lines counted already.
func (ls *loopState) publishServed(l *engine.Loop, h engine.Handle, path []byte) {
	if !bytes.HasPrefix(path, []byte("/pub")) {
		return
	}
	m := ls.s.Metrics
	if ls.PipedRouted { // timed and counted when answered (publish/pipeline.go, answerRouted)
		ls.PipedRouted = false
		return
	}
	if c := ls.Live(h); c != nil && c.Mode == edge.ModeAsync {
		m.Routed(ls.Index, h, l.Now())
		return
	}
	m.ObservePublish(l.Now())
	code := admin.StatusOf(ls.Out)
	if string(path) != "/pub" || code != 200 {
		m.CountStatus(code)
	}
}

// publishAnswered runs when an answer made off the loop is written to h:
// for a publish it records the handling time (the status was counted by
// answerRouted).
func (ls *loopState) publishAnswered(h engine.Handle) {
	ls.s.Metrics.Answered(ls.Index, h)
}

// opsNode is the node as admin's operations endpoints read it (admin.Node).
type opsNode struct{ s *Server }

func (n opsNode) AppendStats(dst []byte) []byte { return n.s.appendStats(dst) }
func (n opsNode) Draining() bool                { return n.s.Draining.Load() }

// AppendMetrics appends the whole exposition: the /stats figures, what the
// metrics measured, and the Go runtime and process collectors.
func (n opsNode) AppendMetrics(dst []byte) []byte {
	sn := n.s.snapshot()
	return n.s.Metrics.Write(admin.AppendFigures(dst, &sn))
}
