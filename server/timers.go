package server

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Each connection has at most one timer on its loop's wheel; timerKind says
// what it is for. The wheel is driven by OnTick.

func (ls *Loop) setTimer(c *connState, kind timerKind, at time.Time) {
	ls.setSubTimer(conntable.ConnSub(conntable.Handle(c.h)), &c.subState, kind, at)
}

// setSubTimer sets subscriber sub's one timer (or, for kinds the sweep
// checks, its deadline).
func (ls *Loop) setSubTimer(sub conntable.Sub, c *subState, kind timerKind, at time.Time) {
	if c.timer != 0 && c.timerKind == timerPoll { // a stream's timer field holds its deadlines (lifetime.go)
		ls.wheel.Cancel(c.timer)
		c.timer = 0
	}
	c.timerKind = kind
	if kind == timerHeader || kind == timerIdle {
		// Every connection waits for a request at some point: a timer each
		// would grow the wheel to the largest connect storm ever seen. The
		// slot sweep checks these deadlines instead.
		c.at = ls.s.stampOf(at)
		return
	}
	c.timer = ls.wheel.Schedule(conntable.Handle(sub), at)
}

func (ls *Loop) cancelTimer(c *connState) { ls.cancelSubTimer(&c.subState) }

func (ls *Loop) cancelSubTimer(c *subState) {
	if c.timer != 0 && c.timerKind == timerPoll {
		ls.wheel.Cancel(c.timer)
	}
	c.timer, c.timerKind = 0, timerNone
}

// fire runs for each due timer, with ls.cur set to the loop; a timer is
// scheduled under its subscriber's handle (a connection's, or a stream's).
func (ls *Loop) fire(ch conntable.Handle, id conntable.TimerID) {
	sub := conntable.Sub(ch)
	c, _ := ls.subscriberOf(sub)
	if c == nil || c.timer != id || c.timerKind != timerPoll {
		return
	}
	c.timer = 0
	switch c.timerKind {
	case timerPoll:
		ls.s.glue.pollAnswer(ls.cur, sub, c, nil, true)
	}
}

// keepAliveIdle is how long a keep-alive connection may sit between requests.
// Publishers keep pools of idle connections, so this is generous.
const keepAliveIdle = 5 * time.Minute

// Heartbeats (SPEC §3), header timeouts and keep-alive idle timeouts are
// not timers: a stream would hold one for its whole life, and every new
// connection waits for a request. Each tick instead sweeps a share of the
// loop's slots, so every slot is visited four times per sweep period (the
// shorter of --heartbeat and --header-timeout): a stream quiet for the
// heartbeat less a visit interval gets a heartbeat, so none stays silent
// longer than --heartbeat; a request deadline is enforced within a quarter
// of --header-timeout. Idle connections cost no timer memory at all.

// sweep visits the next share of slots.
func (ls *Loop) sweep(l *engine.Loop, now time.Time) {
	total := len(ls.pages) * connPageSize
	if total == 0 {
		return
	}
	cfg := &ls.s.cfg
	visitEvery := min(cfg.Heartbeat, cfg.HeaderTimeout) / 4
	ticks := max(int(visitEvery/tickInterval(*cfg)), 1)
	quiet := cfg.Heartbeat - visitEvery
	ls.renewAgeBudget(tickInterval(*cfg))
	for range (total + ticks - 1) / ticks {
		slot := ls.sweepCursor
		ls.sweepCursor = (ls.sweepCursor + 1) % total
		c := &ls.pages[slot/connPageSize][slot%connPageSize]
		if c.h == 0 {
			continue
		}
		switch {
		case c.mode == modeH2:
			ls.s.glue.sweepH2(l, c, now, quiet, visitEvery)
		case c.mode == modeStream && c.timer != 0 && ls.s.glue.lifeDue(l, conntable.ConnSub(conntable.Handle(c.h)), &c.subState, c.h, now, visitEvery):
		case c.mode == modeStream && now.Sub(ls.s.timeOf(c.at)) >= quiet:
			ls.heartbeat(l, conntable.ConnSub(conntable.Handle(c.h)), &c.subState, c.h, now)
		case c.mode != modeRequest || now.Before(ls.s.timeOf(c.at)):
		case c.timerKind == timerHeader:
			ls.refuse(l, c.h, c, 408, "request not received within --header-timeout")
		case c.timerKind == timerIdle:
			l.Close(c.h, errIdle)
		}
	}
}

// heartbeat writes a heartbeat frame on subscriber sub's stream.
func (ls *Loop) heartbeat(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, now time.Time) {
	nowMs := now.UnixMilli()
	ls.frameTo(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendHeartbeatFrame(dst, s.format, nowMs, ls.s.boundary)
	})
}

// writeFrame writes a per-subscriber frame to the subscriber connection h
// carries; see frameTo.
func (ls *Loop) writeFrame(l *engine.Loop, h engine.Handle, c *connState, body func([]byte) []byte) {
	ls.frameTo(l, conntable.ConnSub(conntable.Handle(h)), &c.subState, h, body)
}

// frameTo encodes one per-subscriber frame (registered, heartbeat,
// control) and writes it with the stream's framing.
func (ls *Loop) frameTo(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, body func([]byte) []byte) {
	ls.frame = httpcodec.AppendChunkedFrame(ls.frame[:0], body)
	chunked, raw := httpcodec.SplitChunkedFrame(ls.frame)
	ls.writeTo(l, sub, s, conn, s.pick(raw, chunked), false)
	s.at = ls.s.stampOf(l.Now())
}

// renewAgeBudget sets how many streams the loop may end for their age in
// this tick: at most its streams × tick / (max age / ageJitter), at least
// one. That is the rate at which the jitter alone would end a burst, so a
// burst whose limits fall between two visits of the sweep is still ended
// over a tenth of the max age, never in one instant, and the budget never
// lags behind the streams that come due.
func (ls *Loop) renewAgeBudget(tick time.Duration) {
	age := ls.s.cfg.MaxConnAge
	if age <= 0 {
		return
	}
	ls.ageBudget = max(1, int(ls.subscribers.Load()*int64(tick)*ageJitter/int64(age)))
}

// ageJitter is the share of --max-conn-age by which a stream's own limit may
// fall short of it: limits are drawn in [0.9, 1]×max age, so streams that
// started in one burst (a node's start, a reconnect storm) end spread over a
// tenth of it.
const ageJitter = 10
