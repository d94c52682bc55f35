package server

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
	cfg      Config
	log      *slog.Logger
	nodeID   string
	boundary []byte // multipart boundary, one per node so frames are shared
	started  time.Time
	// debug caches log.Enabled(debug): a disabled slog call still boxes its
	// arguments, an allocation per message on the hot path.
	debug bool

	eng   *engine.Engine
	loops []*Loop
	sent  *store.SentLog // QoS 1 messages written and not acknowledged: what an ack may remove
	perIP *ipCounter
	rates *rateLimiter

	edgeConns atomic.Int64
	draining  atomic.Bool

	glue Glue
}

// Glue is what the packages above the edge do for it: one table per node,
// filled in at assembly (server.go), so no connection carries it and a
// delivery to an HTTP/1.x subscriber calls none of it. Every func runs on
// the loop l it is given.
type Glue struct {
	// serve answers a request read whole, by listener (listenerEdge, listenerAPI).
	serve [2]func(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request)
	// tasks run the task ops from firstGlueOp on.
	tasks [maxOps]func(l *engine.Loop, t engine.Task)
	// frozen reports a loop handing its connections over (an upgrade).
	frozen func(loop int) bool
	// observeDelay records a message's delivery delay, once per message per loop.
	observeDelay func(loop int, m *message)

	// Subscribers (long-polls, stream lifetimes, the table).
	pollAnswer  func(l *engine.Loop, sub conntable.Sub, c *subState, extra []*message, final bool) bool
	answerPoll  func(l *engine.Loop, h engine.Handle, c *connState, extra []*message, final bool) bool
	unsubscribe func(l *engine.Loop, c *connState)
	lifeDue     func(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, now time.Time, visitEvery time.Duration) bool

	// Pipelined api answers (in order behind answers in flight).
	waitPipe       func(l *engine.Loop, c *connState, req *httpcodec.Request, keepAlive bool) bool
	reply          func(l *engine.Loop, h engine.Handle, answer []byte)
	closeAfterPipe func(l *engine.Loop, h engine.Handle, answer []byte) bool
	dropPipe       func(l *engine.Loop, h engine.Handle)

	// HTTP/2 connections and their streams.
	speaksH2 func(l *engine.Loop, h engine.Handle, in []byte) (isH2, more bool)
	startH2  func(l *engine.Loop, h engine.Handle, c *connState)
	feedH2   func(l *engine.Loop, h engine.Handle, c *connState, in []byte) int
	closeH2  func(l *engine.Loop, c *connState)
	tickH2   func(l *engine.Loop, now time.Time)
	sweepH2  func(l *engine.Loop, c *connState, now time.Time, quiet, visitEvery time.Duration)
	drainH2  func(l *engine.Loop, c *connState, nowMs int64, spread time.Duration)
	h2Data   func(l *engine.Loop, sub conntable.Sub, conn engine.Handle, b []byte)
}
