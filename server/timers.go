package server

import (
	"strconv"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// Each connection has at most one timer on its loop's wheel; timerKind says
// what it is for. The wheel is driven by OnTick.

func (ls *loopState) setTimer(c *connState, kind timerKind, at time.Time) {
	if c.timer != 0 {
		ls.wheel.Cancel(c.timer)
	}
	c.timer = ls.wheel.Schedule(conntable.Handle(c.h), at)
	c.timerKind = kind
}

func (ls *loopState) cancelTimer(c *connState) {
	if c.timer != 0 {
		ls.wheel.Cancel(c.timer)
	}
	c.timer, c.timerKind = 0, timerNone
}

// fire runs for each due timer, with ls.cur set to the loop.
func (ls *loopState) fire(ch conntable.Handle, id conntable.TimerID) {
	h := engine.Handle(ch)
	c := ls.live(h)
	if c == nil || c.timer != id {
		return
	}
	c.timer = 0
	l := ls.cur
	switch c.timerKind {
	case timerHeader:
		ls.refuse(l, h, c, 408, "request not received within --header-timeout")
	case timerIdle:
		l.Close(h, errIdle)
	case timerHeartbeat:
		ls.heartbeat(l, h, c)
	case timerPoll:
		ls.answerPoll(l, h, c, nil, true)
	}
}

// keepAliveIdle is how long a keep-alive connection may sit between requests.
// Publishers keep pools of idle connections, so this is generous.
const keepAliveIdle = 5 * time.Minute

// heartbeat writes a heartbeat frame when the stream has been quiet for a
// whole interval, and schedules the next check one interval after the last
// frame written.
func (ls *loopState) heartbeat(l *engine.Loop, h engine.Handle, c *connState) {
	now := l.Now()
	interval := ls.s.cfg.Heartbeat
	nowMs := now.UnixMilli()
	if time.Duration(nowMs-c.lastSend)*time.Millisecond >= interval-tickInterval(ls.s.cfg) {
		var packet [64]byte
		p := appendHeartbeatPacket(packet[:0], nowMs)
		if c.format == formatSSE {
			ls.writeFrame(l, h, c, func(dst []byte) []byte {
				dst = append(dst, ": hb "...)
				dst = strconv.AppendInt(dst, nowMs, 10)
				return append(dst, "\n\n"...)
			})
		} else {
			ls.writeFrame(l, h, c, func(dst []byte) []byte {
				return appendPacketFrame(dst, c.format, nil, p, ls.s.boundary)
			})
		}
	}
	next := time.UnixMilli(c.lastSend).Add(interval)
	if !next.After(now) {
		next = now.Add(interval)
	}
	ls.setTimer(c, timerHeartbeat, next)
}

// writeFrame encodes one per-connection frame (registered, heartbeat,
// control) and writes it with the stream's framing.
func (ls *loopState) writeFrame(l *engine.Loop, h engine.Handle, c *connState, body func([]byte) []byte) {
	ls.frame = encodeChunkedFrame(ls.frame[:0], body)
	chunked, raw := splitChunkedFrame(ls.frame)
	if c.minor == 0 {
		l.Write(h, raw)
	} else {
		l.Write(h, chunked)
	}
	c.lastSend = l.Now().UnixMilli()
}
