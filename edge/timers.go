package edge

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Each connection has at most one timer on its loop's wheel; timerKind says
// what it is for. The wheel is driven by OnTick.

func (ls *Loop) SetTimer(c *ConnState, kind timerKind, at time.Time) {
	ls.SetSubTimer(conntable.ConnSub(conntable.Handle(c.H)), &c.SubState, kind, at)
}

// SetSubTimer sets subscriber sub's one timer (or, for kinds the sweep
// checks, its deadline).
func (ls *Loop) SetSubTimer(sub conntable.Sub, c *SubState, kind timerKind, at time.Time) {
	if c.Timer != 0 && c.TimerKind == TimerPoll { // a stream's timer field holds its deadlines (subscribe/lifetime.go)
		ls.wheel.Cancel(c.Timer)
		c.Timer = 0
	}
	c.TimerKind = kind
	if kind == TimerHeader || kind == TimerIdle {
		// Every connection waits for a request at some point: a timer each
		// would grow the wheel to the largest connect storm ever seen. The
		// slot sweep checks these deadlines instead.
		c.At = ls.s.StampOf(at)
		return
	}
	c.Timer = ls.wheel.Schedule(conntable.Handle(sub), at)
}

func (ls *Loop) CancelTimer(c *ConnState) { ls.CancelSubTimer(&c.SubState) }

func (ls *Loop) CancelSubTimer(c *SubState) {
	if c.Timer != 0 && c.TimerKind == TimerPoll {
		ls.wheel.Cancel(c.Timer)
	}
	c.Timer, c.TimerKind = 0, TimerNone
}

// fire runs for each due timer, with ls.cur set to the loop; a timer is
// scheduled under its subscriber's handle (a connection's, or a stream's).
func (ls *Loop) fire(ch conntable.Handle, id conntable.TimerID) {
	sub := conntable.Sub(ch)
	c, _ := ls.SubscriberOf(sub)
	if c == nil || c.Timer != id || c.TimerKind != TimerPoll {
		return
	}
	c.Timer = 0
	switch c.TimerKind {
	case TimerPoll:
		ls.s.Glue.PollAnswer(ls.cur, sub, c, nil, true)
	}
}

// KeepAliveIdle is how long a keep-alive connection may sit between requests.
// Publishers keep pools of idle connections, so this is generous.
const KeepAliveIdle = 5 * time.Minute

// Heartbeats (SPEC §3), header timeouts and keep-alive idle timeouts are
// not timers: a stream would hold one for its whole life, and every new
// connection waits for a request. Each tick instead sweeps a share of the
// loop's slots, so every slot is visited four times per sweep period (the
// shorter of --heartbeat and --header-timeout): a stream quiet for the
// heartbeat less a visit interval gets a heartbeat, so none stays silent
// longer than --heartbeat; a request deadline is enforced within a quarter
// of --header-timeout. Idle connections cost no timer memory at all.

// Sweep visits the next share of slots.
func (ls *Loop) Sweep(l *engine.Loop, now time.Time) {
	total := len(ls.Pages) * connPageSize
	if total == 0 {
		return
	}
	cfg := &ls.s.Cfg
	visitEvery := min(cfg.Heartbeat, cfg.HeaderTimeout) / 4
	ticks := max(int(visitEvery/TickInterval(*cfg)), 1)
	quiet := cfg.Heartbeat - visitEvery
	ls.renewAgeBudget(TickInterval(*cfg))
	for range (total + ticks - 1) / ticks {
		slot := ls.sweepCursor
		ls.sweepCursor = (ls.sweepCursor + 1) % total
		c := &ls.Pages[slot/connPageSize][slot%connPageSize]
		if c.H == 0 {
			continue
		}
		switch {
		case c.Mode == ModeH2:
			ls.s.Glue.SweepH2(l, c, now, quiet, visitEvery)
		case c.Mode == ModeStream && c.Timer != 0 && ls.s.Glue.LifeDue(l, conntable.ConnSub(conntable.Handle(c.H)), &c.SubState, c.H, now, visitEvery):
		case c.Mode == ModeStream && now.Sub(ls.s.TimeOf(c.At)) >= quiet:
			ls.Heartbeat(l, conntable.ConnSub(conntable.Handle(c.H)), &c.SubState, c.H, now)
		case c.Mode != ModeRequest || now.Before(ls.s.TimeOf(c.At)):
		case c.TimerKind == TimerHeader:
			ls.refuse(l, c.H, c, 408, "request not received within --header-timeout")
		case c.TimerKind == TimerIdle:
			l.Close(c.H, errIdle)
		}
	}
}

// Heartbeat writes a heartbeat frame on subscriber sub's stream.
func (ls *Loop) Heartbeat(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, now time.Time) {
	nowMs := now.UnixMilli()
	ls.FrameTo(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendHeartbeatFrame(dst, s.Format, nowMs, ls.s.Boundary)
	})
}

// writeFrame writes a per-subscriber frame to the subscriber connection h
// carries; see frameTo.
func (ls *Loop) writeFrame(l *engine.Loop, h engine.Handle, c *ConnState, body func([]byte) []byte) {
	ls.FrameTo(l, conntable.ConnSub(conntable.Handle(h)), &c.SubState, h, body)
}

// FrameTo encodes one per-subscriber frame (registered, heartbeat,
// control) and writes it with the stream's framing.
func (ls *Loop) FrameTo(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, body func([]byte) []byte) {
	ls.Frame = httpcodec.AppendChunkedFrame(ls.Frame[:0], body)
	chunked, raw := httpcodec.SplitChunkedFrame(ls.Frame)
	ls.writeTo(l, sub, s, conn, s.pick(raw, chunked), false)
	s.At = ls.s.StampOf(l.Now())
}

// renewAgeBudget sets how many streams the loop may end for their age in
// this tick: at most its streams × tick / (max age / ageJitter), at least
// one. That is the rate at which the jitter alone would end a burst, so a
// burst whose limits fall between two visits of the sweep is still ended
// over a tenth of the max age, never in one instant, and the budget never
// lags behind the streams that come due.
func (ls *Loop) renewAgeBudget(tick time.Duration) {
	age := ls.s.Cfg.MaxConnAge
	if age <= 0 {
		return
	}
	ls.AgeBudget = max(1, int(ls.Subscribers.Load()*int64(tick)*AgeJitter/int64(age)))
}

// AgeJitter is the share of --max-conn-age by which a stream's own limit may
// fall short of it: limits are drawn in [0.9, 1]×max age, so streams that
// started in one burst (a node's start, a reconnect storm) end spread over a
// tenth of it.
const AgeJitter = 10
