package edge

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/store"
)

// Node is what the loops of one node share: its configuration, the engine,
// the loops, the sent log and the connection limits, and the glue the
// packages above fill in at assembly. It is the engine.Handler. Set up once
// before the engine starts, then read-only but for the atomics.
type Node struct {
	Cfg      Config
	Log      *slog.Logger
	ID       string
	Boundary []byte // multipart boundary, one per node so frames are shared
	Started  time.Time
	// Debug caches log.Enabled(debug): a disabled slog call still boxes its
	// arguments, an allocation per message on the hot path.
	Debug bool

	Eng   *engine.Engine
	Loops []*Loop
	Sent  *store.SentLog // QoS 1 messages written and not acknowledged: what an ack may remove
	PerIP *ipCounter
	Rates *rateLimiter

	EdgeConns atomic.Int64
	Draining  atomic.Bool

	Glue Glue
}

// Glue is what the packages above the edge do for it: one table per node,
// filled in at assembly (server/loopglue.go), so no connection carries it and a
// delivery to an HTTP/1.x subscriber calls none of it. Every func runs on
// the loop l it is given.
type Glue struct {
	// Serve answers a request read whole, by listener (ListenerEdge, ListenerAPI).
	Serve [2]func(l *engine.Loop, h engine.Handle, c *ConnState, req *httpcodec.Request)
	// Tasks run the task ops from FirstGlueOp on.
	Tasks [maxOps]func(l *engine.Loop, t engine.Task)
	// Frozen reports a loop handing its connections over (an upgrade).
	Frozen func(loop int) bool
	// ObserveDelay records a message's delivery delay, once per message per loop.
	ObserveDelay func(loop int, m *Message)

	// Subscribers (long-polls, stream lifetimes, the table).
	PollAnswer  func(l *engine.Loop, sub conntable.Sub, c *SubState, extra []*Message, final bool) bool
	AnswerPoll  func(l *engine.Loop, h engine.Handle, c *ConnState, extra []*Message, final bool) bool
	Unsubscribe func(l *engine.Loop, c *ConnState)
	LifeDue     func(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, now time.Time, visitEvery time.Duration) bool

	// HoldRequest reports that h may not start a request now — a handoff is
	// quiescing its loop (upgrade/hold.go), or its answer queue is full
	// and even a refusal would need a slot (publish/pipeline.go) — and takes
	// care of reading it again later.
	HoldRequest func(l *engine.Loop, h engine.Handle, c *ConnState) bool

	// Pipelined api answers (in order behind answers in flight).
	WaitPipe       func(l *engine.Loop, c *ConnState, req *httpcodec.Request, keepAlive bool) bool
	Reply          func(l *engine.Loop, h engine.Handle, answer []byte)
	CloseAfterPipe func(l *engine.Loop, h engine.Handle, answer []byte) bool
	DropPipe       func(l *engine.Loop, h engine.Handle)

	// HTTP/2 connections and their streams.
	SpeaksH2 func(l *engine.Loop, h engine.Handle, in []byte) (isH2, more bool)
	StartH2  func(l *engine.Loop, h engine.Handle, c *ConnState)
	FeedH2   func(l *engine.Loop, h engine.Handle, c *ConnState, in []byte) int
	CloseH2  func(l *engine.Loop, c *ConnState)
	Tick     func(l *engine.Loop, now time.Time) // HTTP/2 pings, requests a failed handoff held

	SweepH2 func(l *engine.Loop, c *ConnState, now time.Time, quiet, visitEvery time.Duration)
	DrainH2 func(l *engine.Loop, c *ConnState, nowMs int64, spread time.Duration)
	H2Data  func(l *engine.Loop, sub conntable.Sub, conn engine.Handle, b []byte)
}

// Listener tags given to engine.Listen.
const (
	ListenerEdge = 0
	ListenerAPI  = 1
)

// TickInterval is the timing-wheel resolution: fine enough for the shortest
// timeout configured, never busier than every 10ms.
func TickInterval(cfg Config) time.Duration {
	tick := 100 * time.Millisecond
	for _, d := range []time.Duration{cfg.Heartbeat, cfg.HeaderTimeout, cfg.PollTimeout} {
		if d/10 < tick {
			tick = d / 10
		}
	}
	return max(tick, 10*time.Millisecond)
}
