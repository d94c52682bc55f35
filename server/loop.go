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

// Engine task ops (engine.Task.Op) the core runs itself; the glue's own
// start at firstGlueOp and run through glue.tasks.
const (
	opDeliver    = iota + 1 // V *message: write it to H
	opDeliverAll            // V *message: write it to every subscriber of the loop
	opDrain                 // H zero: send reconnect to every stream of the loop and close them
	opRun                   // V func(*engine.Loop): run on the loop (tests drive the internal API so)
	firstGlueOp
)

// maxOps bounds the task ops, the core's and the glue's.
const maxOps = 32

// Loop is the edge's state on one engine loop: the connections, their
// subscribers, timers, the request being served and the loop's deliveries.
// Only that loop's goroutine touches it, except the atomic counters that
// /stats reads and the conn keys (loopconns.go). Its parts each own one
// thing, each in its own file; their fields are promoted, so a handler reads
// ls.pages or ls.out.
type Loop struct {
	s     *Node
	index int
	rng   *rand.ChaCha8 // conn keys: a CSPRNG seeded from crypto/rand

	loopConns          // connection pages, parsers, memberships (loopconns.go)
	loopStreams        // subscribers that share a connection: HTTP/2 streams (subscriber.go)
	loopTimers         // the timing wheel and the slot sweep (looptimers.go)
	reqScratch         // the request being served: parameters, response (loopscratch.go)
	loopFanOut         // fan-out targets and per-loop batches (loopfanout.go)
	replayHolds        // streams held for a QoS 1 replay or re-sync (loopholds.go)
	delaySeq    uint64 // the last message whose delivery delay this loop reported (deliver.go)

	subscribers atomic.Int64 // streams and waiting long-polls on this loop
	messagesOut atomic.Uint64
	drops       atomic.Uint64
}

func newLoop(s *Node, index int) *Loop {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	ls := &Loop{s: s, index: index, rng: rand.NewChaCha8(seed)}
	ls.peers = map[engine.Handle][16]byte{}
	ls.held, ls.again = map[engine.Handle][]*message{}, map[engine.Handle]bool{}
	ls.wheel = conntable.NewWheel(tickInterval(s.cfg), 4096, time.Now())
	ls.fireFn = ls.fire
	ls.batches = make(loopBatches, s.eng.Loops())
	return ls
}

// OnOpen implements engine.Handler.
func (s *Node) OnOpen(l *engine.Loop, h engine.Handle, listener int, peer netip.Addr) bool {
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
func (s *Node) keepsPeer(listener int) bool {
	if listener == listenerEdge {
		return s.cfg.MaxConnsPerIP > 0
	}
	return s.cfg.PublishRate > 0
}

func (s *Node) maxConns() int {
	if s.cfg.MaxConns > 0 {
		return s.cfg.MaxConns
	}
	return 0
}

// OnData implements engine.Handler.
func (s *Node) OnData(l *engine.Loop, h engine.Handle, in []byte) int {
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
		return s.glue.feedH2(l, h, c, in)
	}
	if c.listener == listenerEdge && c.parser == 0 && c.timerKind == timerHeader {
		// The connection's first bytes: HTTP/2 or HTTP/1.x (h2conn.go).
		switch isH2, more := s.glue.speaksH2(l, h, in); {
		case isH2:
			s.glue.startH2(l, h, c)
			return s.glue.feedH2(l, h, c, in)
		case more:
			return 0 // a prefix of the preface: the engine carries it
		}
	}
	return ls.serve(l, h, c, in)
}

// noise counts n bytes a client sent after its stream started and closes it
// past maxStreamNoise.
func (ls *Loop) noise(l *engine.Loop, h engine.Handle, c *connState, n int) {
	c.discarded = uint16(min(int(c.discarded)+n, maxStreamNoise+1))
	if c.discarded > maxStreamNoise {
		l.Close(h, errStreamNoise)
	}
}

// OnClose implements engine.Handler.
func (s *Node) OnClose(l *engine.Loop, h engine.Handle, err error) {
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
		s.glue.closeH2(l, c)
	}
	ls.releaseParser(c)
	ls.dropHeld(l, h)
	s.glue.dropPipe(l, h)
	defer delete(ls.peers, h)
	if c.subscribed {
		s.glue.unsubscribe(l, c)
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
func (s *Node) OnTask(l *engine.Loop, t engine.Task) {
	ls := s.loops[l.Index()]
	switch t.Op {
	case opDeliver:
		m := t.V.(*message)
		ls.deliver(l, t.H, m)
		l.Defer(m)
	case opDeliverAll:
		m := t.V.(*message)
		ls.deliverAll(l, m)
		l.Defer(m)
	case opDrain:
		ls.drain(l)
	case opRun:
		t.V.(func(*engine.Loop))(l)
	default:
		if t.Op < maxOps && s.glue.tasks[t.Op] != nil {
			s.glue.tasks[t.Op](l, t)
		}
	}
}

// OnTick implements engine.Handler: it advances the loop's timing wheel.
func (s *Node) OnTick(l *engine.Loop, now time.Time) {
	ls := s.loops[l.Index()]
	if s.glue.frozen(l.Index()) {
		return // handing over: nothing may write to a detached conn (handoff.go)
	}
	ls.cur = l
	ls.wheel.Advance(now, ls.fireFn)
	ls.cur = nil
	s.glue.tickH2(l, now)
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
