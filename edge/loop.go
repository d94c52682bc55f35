package edge

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
// start at FirstGlueOp and run through Glue.Tasks.
const (
	OpDeliver    = iota + 1 // V *message: write it to H
	OpDeliverAll            // V *message: write it to every subscriber of the loop
	OpDrain                 // H zero: send reconnect to every stream of the loop and close them
	OpRun                   // V func(*engine.Loop): run on the loop (tests drive the internal API so)
	FirstGlueOp
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
	Index int
	Rng   *rand.ChaCha8 // conn keys: a CSPRNG seeded from crypto/rand

	loopConns          // connection pages, parsers, memberships (loopconns.go)
	loopStreams        // subscribers that share a connection: HTTP/2 streams (subscriber.go)
	loopTimers         // the timing wheel and the slot sweep (looptimers.go)
	reqScratch         // the request being served: parameters, response (loopscratch.go)
	loopFanOut         // fan-out targets and per-loop batches (loopfanout.go)
	replayHolds        // streams held for a QoS 1 replay or re-sync (loopholds.go)
	delaySeq    uint64 // the last message whose delivery delay this loop reported (deliver.go)

	Subscribers atomic.Int64 // streams and waiting long-polls on this loop
	MessagesOut atomic.Uint64
	Drops       atomic.Uint64
}

func NewLoop(s *Node, index int) *Loop {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	ls := &Loop{s: s, Index: index, Rng: rand.NewChaCha8(seed)}
	ls.Peers = map[engine.Handle][16]byte{}
	ls.Held, ls.Again = map[engine.Handle][]*Message{}, map[engine.Handle]bool{}
	ls.wheel = conntable.NewWheel(TickInterval(s.Cfg), 4096, time.Now())
	ls.fireFn = ls.fire
	ls.batches = make(LoopBatches, s.Eng.Loops())
	return ls
}

// OnOpen implements engine.Handler.
func (s *Node) OnOpen(l *engine.Loop, h engine.Handle, listener int, peer netip.Addr) bool {
	ls := s.Loops[l.Index()]
	c := ls.Conn(h)
	*c = ConnState{H: h, Listener: uint8(listener)}
	if s.KeepsPeer(listener) {
		ls.Peers[h] = peer.As16()
	}
	if listener == ListenerEdge {
		s.EdgeConns.Add(1)
		if !s.PerIP.Acquire(ls.Peers[h]) {
			delete(ls.Peers, h) // not counted, so not released
			ls.refuse(l, h, c, 503, "too many connections from this address (--max-conns-per-ip)")
			return true
		}
		if max := s.maxConns(); max > 0 && s.EdgeConns.Load() > int64(max) {
			ls.refuse(l, h, c, 503, "server full (--max-conns)")
			return true
		}
		if s.Draining.Load() {
			ls.refuse(l, h, c, 503, "node is draining; reconnect elsewhere")
			return true
		}
	}
	ls.SetTimer(c, TimerHeader, l.Now().Add(s.Cfg.HeaderTimeout))
	return true
}

// KeepsPeer reports whether connections of a listener need their peer
// address after OnOpen: for --max-conns-per-ip on the edge, --publish-rate
// on the api. Only those pay for it (ls.peers), not every idle stream.
func (s *Node) KeepsPeer(listener int) bool {
	if listener == ListenerEdge {
		return s.Cfg.MaxConnsPerIP > 0
	}
	return s.Cfg.PublishRate > 0
}

func (s *Node) maxConns() int {
	if s.Cfg.MaxConns > 0 {
		return s.Cfg.MaxConns
	}
	return 0
}

// OnData implements engine.Handler.
func (s *Node) OnData(l *engine.Loop, h engine.Handle, in []byte) int {
	ls := s.Loops[l.Index()]
	c := ls.Live(h)
	if c == nil {
		return len(in)
	}
	switch c.Mode {
	case ModeStream, ModeClosing:
		ls.noise(l, h, c, len(in))
		return len(in)
	case ModePoll, ModeAsync:
		// Pipelined behind an answer not made yet: the engine carries the
		// bytes (bounded) and presents them again after l.Resume.
		return 0
	case ModeH2:
		return s.Glue.FeedH2(l, h, c, in)
	}
	if c.Listener == ListenerEdge && c.Parser == 0 && c.TimerKind == TimerHeader {
		// The connection's first bytes: HTTP/2 or HTTP/1.x (h2edge/conn.go).
		switch isH2, more := s.Glue.SpeaksH2(l, h, in); {
		case isH2:
			s.Glue.StartH2(l, h, c)
			return s.Glue.FeedH2(l, h, c, in)
		case more:
			return 0 // a prefix of the preface: the engine carries it
		}
	}
	return ls.serve(l, h, c, in)
}

// noise counts n bytes a client sent after its stream started and closes it
// past maxStreamNoise.
func (ls *Loop) noise(l *engine.Loop, h engine.Handle, c *ConnState, n int) {
	c.discarded = uint16(min(int(c.discarded)+n, maxStreamNoise+1))
	if c.discarded > maxStreamNoise {
		l.Close(h, errStreamNoise)
	}
}

// OnClose implements engine.Handler.
func (s *Node) OnClose(l *engine.Loop, h engine.Handle, err error) {
	ls := s.Loops[l.Index()]
	c := ls.Live(h)
	if c == nil {
		return
	}
	if err == engine.ErrSlowConsumer {
		ls.Drops.Add(1)
		if s.Debug {
			s.Log.Debug("slow consumer cut", "handle", uint64(h), "pending_limit", s.Cfg.WriteBufferLimit)
		}
	}
	ls.CancelTimer(c)
	if c.Mode == ModeH2 {
		s.Glue.CloseH2(l, c)
	}
	ls.releaseParser(c)
	ls.DropHeld(l, h)
	s.Glue.DropPipe(l, h)
	defer delete(ls.Peers, h)
	if c.Subscribed {
		s.Glue.Unsubscribe(l, c)
	}
	if c.Listener == ListenerEdge {
		s.EdgeConns.Add(-1)
		if ip, ok := ls.Peers[h]; ok {
			s.PerIP.release(ip)
		}
	}
	*c = ConnState{}
}

// OnTask implements engine.Handler.
func (s *Node) OnTask(l *engine.Loop, t engine.Task) {
	ls := s.Loops[l.Index()]
	switch t.Op {
	case OpDeliver:
		m := t.V.(*Message)
		ls.deliver(l, t.H, m)
		l.Defer(m)
	case OpDeliverAll:
		m := t.V.(*Message)
		ls.deliverAll(l, m)
		l.Defer(m)
	case OpDrain:
		ls.drain(l)
	case OpRun:
		t.V.(func(*engine.Loop))(l)
	default:
		if t.Op < maxOps && s.Glue.Tasks[t.Op] != nil {
			s.Glue.Tasks[t.Op](l, t)
		}
	}
}

// OnTick implements engine.Handler: it advances the loop's timing wheel.
func (s *Node) OnTick(l *engine.Loop, now time.Time) {
	ls := s.Loops[l.Index()]
	if s.Glue.Frozen(l.Index()) {
		return // handing over: nothing may write to a detached conn (upgrade/handoff.go)
	}
	ls.cur = l
	ls.wheel.Advance(now, ls.fireFn)
	ls.cur = nil
	s.Glue.Tick(l, now)
	ls.Sweep(l, now)
}

var (
	errStreamNoise = CloseReason("server: client sent more than 4 KiB on a stream")
	ErrKicked      = CloseReason("server: connection kicked by DELETE /conn")
	errIdle        = CloseReason("server: keep-alive connection idle")
)

// CloseReason is why a loop closed a connection: the error handed to
// engine.Loop.Close, a constant, so closing allocates nothing.
type CloseReason string

func (e CloseReason) Error() string { return string(e) }
