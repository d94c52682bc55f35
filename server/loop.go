package server

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// Engine task ops (engine.Task.Op).
const (
	opDeliver      = iota + 1 // V *message: write it to H
	opKick                    // close H (DELETE /conn/<key>)
	opConnCall                // V *asyncCall: describe, kick or ack H, answer on the caller's loop
	opAsyncReply              // V *asyncCall: write its answer to H and resume H
	opDrain                   // H zero: send reconnect to every stream of the loop and close them
	opReplay                  // V *replayBatch: a user's stored QoS 1 messages for H, in order
	opDeliverAll              // V *message: write it to every subscriber of the loop
	opAuthDone                // V *authCall: the auth callback's verdict on H's subscribe
	opKeyedPublish            // V *keyedCall: its keys are claimed; publish it for H
	// The QoS 1 re-sync (resync.go):
	opResyncHold   // V chan struct{}: hold the user streams' live messages; signal V
	opResyncReplay // the node is registered again: replay what the held streams missed
	opResyncFailed // the re-registration failed: write what the streams held
	opRun          // V func(*engine.Loop): run on the loop (tests drive the internal API so)
	opUpgrade      // V *upgradeStep: one round of a handoff to a new process (handoff.go)
	opPipeReply    // V *routeJob: a piped routed publish's answer for H (pipeline.go)
)

// loopState is the server's state on one engine loop. Only that loop's
// goroutine touches it, except the atomic counters that /stats reads and the
// conn keys (loopconns.go). Its parts each own one thing, each in its own
// file; their fields are promoted, so a handler reads ls.pages or ls.out.
type loopState struct {
	s     *Server
	index int
	rng   *rand.ChaCha8 // conn keys: a CSPRNG seeded from crypto/rand

	loopConns                    // connection pages, parsers, memberships (loopconns.go)
	loopStreams                  // subscribers that share a connection: HTTP/2 streams (subscriber.go)
	loopH2                       // HTTP/2 connections' codecs and scratch (h2conn.go)
	loopTimers                   // the timing wheel and the slot sweep (looptimers.go)
	reqScratch                   // the request being served: parameters, response (loopscratch.go)
	loopFanOut                   // fan-out targets and per-loop batches (loopfanout.go)
	replayHolds                  // streams held for a QoS 1 replay or re-sync (loopholds.go)
	publishState                 // the publishing request's route job and results (loopjob.go)
	loopPipes                    // answer queues of api connections with routed requests in flight (pipeline.go)
	loopAllow                    // what auth allowed each stream, for server-side subscribes (allowsets.go)
	presetKey    [2]uint64       // the next register's key bits, chosen by the user policy (userpolicy.go); zero: none
	handoffHeld  []engine.Handle // request connections a quiescing handoff keeps from reading (handoffhold.go)

	subscribers atomic.Int64 // streams and waiting long-polls on this loop
	messagesOut atomic.Uint64
	drops       atomic.Uint64
}

func newLoopState(s *Server, index int) *loopState {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	ls := &loopState{s: s, index: index, rng: rand.NewChaCha8(seed)}
	ls.peers = map[engine.Handle][16]byte{}
	ls.held, ls.again = map[engine.Handle][]*message{}, map[engine.Handle]bool{}
	ls.wheel = conntable.NewWheel(tickInterval(s.cfg), 4096, time.Now())
	ls.fireFn = ls.fire
	ls.batches = make(loopBatches, len(s.loops))
	return ls
}

// OnOpen implements engine.Handler.
func (s *Server) OnOpen(l *engine.Loop, h engine.Handle, listener int, peer netip.Addr) bool {
	ls := s.loops[l.Index()]
	c := ls.conn(h)
	*c = connState{h: h, listener: uint8(listener)}
	if s.keepsPeer(listener) {
		ls.peers[h] = peer.As16()
	}
	if listener == listenerEdge {
		s.edgeConns.Add(1)
		if !s.perIP.acquire(ls.peers[h]) {
			delete(ls.peers, h) // not counted, so not released
			ls.refuse(l, h, c, 503, "too many connections from this address (--max-conns-per-ip)")
			return true
		}
		if max := s.maxConns(); max > 0 && s.edgeConns.Load() > int64(max) {
			ls.refuse(l, h, c, 503, "server full (--max-conns)")
			return true
		}
		if s.draining.Load() {
			ls.refuse(l, h, c, 503, "node is draining; reconnect elsewhere")
			return true
		}
	}
	ls.setTimer(c, timerHeader, l.Now().Add(s.cfg.HeaderTimeout))
	return true
}

// keepsPeer reports whether connections of a listener need their peer
// address after OnOpen: for --max-conns-per-ip on the edge, --publish-rate
// on the api. Only those pay for it (ls.peers), not every idle stream.
func (s *Server) keepsPeer(listener int) bool {
	if listener == listenerEdge {
		return s.cfg.MaxConnsPerIP > 0
	}
	return s.cfg.PublishRate > 0
}

func (s *Server) maxConns() int {
	if s.cfg.MaxConns > 0 {
		return s.cfg.MaxConns
	}
	return 0
}

// OnData implements engine.Handler.
func (s *Server) OnData(l *engine.Loop, h engine.Handle, in []byte) int {
	ls := s.loops[l.Index()]
	c := ls.live(h)
	if c == nil {
		return len(in)
	}
	switch c.mode {
	case modeStream, modeClosing:
		ls.noise(l, h, c, len(in))
		return len(in)
	case modePoll, modeAsync:
		// Pipelined behind an answer not made yet: the engine carries the
		// bytes (bounded) and presents them again after l.Resume.
		return 0
	case modeH2:
		return ls.feedH2(l, h, c, in)
	}
	if c.listener == listenerEdge && c.parser == 0 && c.timerKind == timerHeader {
		// The connection's first bytes: HTTP/2 or HTTP/1.x (h2conn.go).
		switch isH2, more := ls.speaksH2(l, h, in); {
		case isH2:
			ls.startH2(l, h, c)
			return ls.feedH2(l, h, c, in)
		case more:
			return 0 // a prefix of the preface: the engine carries it
		}
	}
	return ls.serve(l, h, c, in)
}

// noise counts n bytes a client sent after its stream started and closes it
// past maxStreamNoise.
func (ls *loopState) noise(l *engine.Loop, h engine.Handle, c *connState, n int) {
	c.discarded = uint16(min(int(c.discarded)+n, maxStreamNoise+1))
	if c.discarded > maxStreamNoise {
		l.Close(h, errStreamNoise)
	}
}

// OnClose implements engine.Handler.
func (s *Server) OnClose(l *engine.Loop, h engine.Handle, err error) {
	ls := s.loops[l.Index()]
	c := ls.live(h)
	if c == nil {
		return
	}
	if err == engine.ErrSlowConsumer {
		ls.drops.Add(1)
		if s.debug {
			s.log.Debug("slow consumer cut", "handle", uint64(h), "pending_limit", s.cfg.WriteBufferLimit)
		}
	}
	ls.cancelTimer(c)
	if c.mode == modeH2 {
		ls.closeH2(l, c)
	}
	ls.releaseParser(c)
	ls.dropHeld(l, h)
	ls.dropPipe(h)
	defer delete(ls.peers, h)
	if c.subscribed {
		ls.unsubscribe(l, c)
	}
	if c.listener == listenerEdge {
		s.edgeConns.Add(-1)
		if ip, ok := ls.peers[h]; ok {
			s.perIP.release(ip)
		}
	}
	*c = connState{}
}

// OnTask implements engine.Handler.
func (s *Server) OnTask(l *engine.Loop, t engine.Task) {
	ls := s.loops[l.Index()]
	switch t.Op {
	case opDeliver:
		m := t.V.(*message)
		ls.deliver(l, t.H, m)
		l.Defer(m)
	case opKick:
		if sub, conn := ls.subscriberOf(conntable.Sub(t.H)); sub != nil {
			ls.kick(l, conntable.Sub(t.H), sub, conn)
		}
	case opConnCall:
		ls.runConnCall(l, t.V.(*asyncCall))
	case opAsyncReply:
		ls.finishAsync(l, t.H, t.V.(*asyncCall))
	case opDrain:
		ls.drain(l)
	case opDeliverAll:
		m := t.V.(*message)
		ls.deliverAll(l, m)
		l.Defer(m)
	case opReplay:
		ls.replayBatch(l, t.H, t.V.(*replayBatch))
	case opAuthDone:
		ls.authDone(l, t.V.(*authCall))
	case opKeyedPublish:
		ls.keyedPublish(l, t.V.(*keyedCall))
	case opResyncHold:
		ls.resyncHold(t.V.(chan struct{}))
	case opResyncReplay:
		ls.resyncReplay(l)
	case opResyncFailed:
		ls.resyncFailed(l)
	case opRun:
		t.V.(func(*engine.Loop))(l)
	case opUpgrade:
		ls.upgradeStep(l, t.V.(*upgradeStep))
	case opPipeReply:
		ls.pipeAnswered(l, t.V.(*routeJob))
	}
}

// OnTick implements engine.Handler: it advances the loop's timing wheel.
func (s *Server) OnTick(l *engine.Loop, now time.Time) {
	ls := s.loops[l.Index()]
	if s.frozen(l.Index()) {
		return // handing over: nothing may write to a detached conn (handoff.go)
	}
	if len(ls.handoffHeld) > 0 {
		ls.resumeHandoffHeld(l)
	}
	ls.cur = l
	ls.wheel.Advance(now, ls.fireFn)
	ls.cur = nil
	ls.tickH2(now)
	ls.sweep(l, now)
}

var (
	errStreamNoise = closeReason("server: client sent more than 4 KiB on a stream")
	errKicked      = closeReason("server: connection kicked by DELETE /conn")
	errIdle        = closeReason("server: keep-alive connection idle")
)

// closeReason is why a loop closed a connection: the error handed to
// engine.Loop.Close, a constant, so closing allocates nothing.
type closeReason string

func (e closeReason) Error() string { return string(e) }
