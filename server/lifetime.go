package server

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// A stream's lifetime (SPEC §3, §7): --max-conn-age ends a stream that has
// lived its age limit with the reconnect frame, so that clients spread over
// the nodes again (a node added since takes its share) and long-lived
// credentials are checked again; auth's expiry (a token's exp, an auth
// callback's ttl) sends the refresh frame --refresh-before it and ends the
// stream at it, so a revoked or expired identity stops receiving.
//
// Neither is a timer. The deadlines live in the stream's subState.timer,
// which only a long-poll uses for its wheel timer (a stream never has one):
// in modeStream it holds a streamLife. The slot sweep (timers.go) that
// visits every stream for its heartbeat checks them on the same visit.

// streamLife is a stream's deadlines, packed into subState.timer: bits 0-31
// the stamp at which its age limit ends it (0 = none), bits 32-62 its auth's
// expiry in whole seconds since the second the node started (0 = none; a
// token's exp is whole seconds, so the refresh frame tells it exactly; a
// callback's ttl is rounded up to the second), bit 63 set once the refresh
// frame went.
type streamLife uint64

const (
	lifeAgeMask   = 1<<32 - 1
	lifeExpShift  = 32
	lifeExpMask   = 1<<31 - 1
	lifeRefreshed = 1 << 63
)

func (f streamLife) ageEnd() stamp   { return stamp(f & lifeAgeMask) }
func (f streamLife) expiry() stamp   { return stamp(f >> lifeExpShift & lifeExpMask) }
func (f streamLife) refreshed() bool { return f&lifeRefreshed != 0 }

// ageJitter is the share of --max-conn-age by which a stream's own limit may
// fall short of it: limits are drawn in [0.9, 1]×max age, so streams that
// started in one burst (a node's start, a reconnect storm) end spread over a
// tenth of it.
const ageJitter = 10

// startLife sets the deadlines of stream s as it starts: its age limit, and
// the expiry its auth gave (sn.expires, unix ms; 0 = none). A stream whose
// auth ends within --refresh-before gets the refresh frame at once.
func (ls *loopState) startLife(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, sn *subscription) {
	cfg, now := &ls.s.cfg, l.Now()
	var life streamLife
	if cfg.MaxConnAge > 0 {
		life |= streamLife(ls.s.lifeStamp(now.Add(ls.ageLimit()), lifeAgeMask))
	}
	if sn.expires != 0 {
		life |= streamLife(ls.s.expStamp(time.UnixMilli(sn.expires))) << lifeExpShift
	}
	s.timer = conntable.TimerID(life)
	if exp := life.expiry(); exp != 0 && !now.Before(ls.s.expTime(exp).Add(-cfg.RefreshBefore)) {
		ls.refresh(l, sub, s, conn, now)
	}
}

// ageLimit draws a stream's own age limit, uniformly in [0.9, 1]×--max-conn-age.
func (ls *loopState) ageLimit() time.Duration {
	age := ls.s.cfg.MaxConnAge
	return age - time.Duration(ls.rng.Uint64()%uint64(age/ageJitter+1))
}

// lifeStamp is t as a deadline stamp: never 0 (which means none), and none
// when t lies beyond what limit holds (years after the node started).
func (s *Server) lifeStamp(t time.Time, limit stamp) stamp {
	if t.Before(s.started) {
		return 1
	}
	if d := t.Sub(s.started) / stampUnit; d < time.Duration(limit) {
		return stamp(max(d, 1))
	}
	return 0
}

// expStamp is an expiry as whole seconds since the second the node started,
// rounded up: never 0 (none), and none beyond 68 years.
func (s *Server) expStamp(t time.Time) stamp {
	d := t.Sub(s.started.Truncate(time.Second))
	secs := (d + time.Second - 1) / time.Second
	if secs > lifeExpMask {
		return 0
	}
	return stamp(max(secs, 1))
}

// expTime is the time expStamp st stands for.
func (s *Server) expTime(st stamp) time.Time {
	return s.started.Truncate(time.Second).Add(time.Duration(st) * time.Second)
}

// lifeDue runs on the sweep's visit to stream s (modeStream, s.timer set):
// it ends a stream whose auth expired or, within the tick's budget, that
// outlived its age limit, or sends the refresh frame when the expiry is near.
// It reports whether it wrote or ended anything (the visit's heartbeat is
// then not needed).
//
// The expiry is enforced early rather than late: the stream ends on the
// first visit within a visit interval of it, so it is never held past its
// auth's end by more than a late tick.
func (ls *loopState) lifeDue(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, now time.Time, visitEvery time.Duration) bool {
	life := streamLife(s.timer)
	if exp := life.expiry(); exp != 0 {
		at := ls.s.expTime(exp)
		switch {
		case !now.Before(at.Add(-visitEvery)):
			if !life.refreshed() && ls.s.cfg.RefreshBefore > 0 {
				// --refresh-before shorter than the visit interval: no visit
				// fell between the two, so the frame comes with the end.
				ls.refresh(l, sub, s, conn, now)
			}
			ls.s.counters.expiries.Add(1)
			ls.endStreamWith(l, sub, s, conn, nil)
			return true
		case !life.refreshed() && !now.Before(at.Add(-ls.s.cfg.RefreshBefore)):
			ls.refresh(l, sub, s, conn, now)
			return true
		}
	}
	if end := life.ageEnd(); end != 0 && !now.Before(ls.s.timeOf(end)) && ls.ageBudget > 0 {
		ls.ageBudget--
		ls.s.counters.ageCloses.Add(1)
		f, nowMs, retry := s.format, now.UnixMilli(), ls.s.cfg.Retry.Milliseconds()
		ls.endStreamWith(l, sub, s, conn, func(dst []byte) []byte {
			return push.AppendReconnectFrame(dst, f, nowMs, retry, ls.s.boundary)
		})
		return true
	}
	return false
}

// refresh writes the refresh frame on stream s, once.
func (ls *loopState) refresh(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, now time.Time) {
	life := streamLife(s.timer)
	s.timer = conntable.TimerID(life | lifeRefreshed)
	ls.s.counters.refreshes.Add(1)
	f, nowMs, expMs := s.format, now.UnixMilli(), ls.s.expTime(life.expiry()).UnixMilli()
	ls.frameTo(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendRefreshFrame(dst, f, nowMs, expMs, ls.s.boundary)
	})
}

// renewAgeBudget sets how many streams the loop may end for their age in
// this tick: at most its streams × tick / (max age / ageJitter), at least
// one. That is the rate at which the jitter alone would end a burst, so a
// burst whose limits fall between two visits of the sweep is still ended
// over a tenth of the max age, never in one instant, and the budget never
// lags behind the streams that come due.
func (ls *loopState) renewAgeBudget(tick time.Duration) {
	age := ls.s.cfg.MaxConnAge
	if age <= 0 {
		return
	}
	ls.ageBudget = max(1, int(ls.subscribers.Load()*int64(tick)*ageJitter/int64(age)))
}

// endStreamWith ends stream subscriber s, named sub, on purpose: its last
// frame is what frame appends (none when nil), then an HTTP/1.x stream ends
// with its connection (once the frame is written, lingering), an HTTP/2
// stream alone (END_STREAM). It leaves the table at once, so its key answers
// 404 and nothing more is delivered to it.
func (ls *loopState) endStreamWith(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, frame func([]byte) []byte) {
	if frame != nil {
		ls.frameTo(l, sub, s, conn, frame)
	}
	if s.format == push.Multipart {
		ls.frameTo(l, sub, s, conn, func(dst []byte) []byte {
			return push.AppendMultipartClose(dst, ls.s.boundary)
		})
	}
	if sub.IsStream() {
		hc, st := ls.h2Of(conn), ls.stream(sub)
		if hc == nil || st == nil {
			return
		}
		out, _ := hc.codec.WriteData(ls.h2out[:0], st.id, nil, true)
		ls.h2out = out
		l.Write(conn, out)
		ls.h2Forget(l, hc, sub)
		return
	}
	if s.minor == framingChunked {
		l.Write(conn, lastChunk)
	}
	// Out of the table at once: the key answers 404 and nothing more is
	// delivered while the connection lingers (CloseAfterFlush waits for the
	// peer's close, bounded).
	ls.leave(l, sub, s)
	c := ls.live(conn)
	ls.cancelTimer(c)
	c.mode = modeClosing
	l.CloseAfterFlush(conn)
}

// exportLife is stream s's deadlines as absolute times for an upgrade's
// handoff record (unix ms, 0 = none): stamps count from this process's start.
func (s *Server) exportLife(st *subState) (ageEndMs, expiresMs int64, refreshed bool) {
	life := streamLife(st.timer)
	if end := life.ageEnd(); end != 0 {
		ageEndMs = s.timeOf(end).UnixMilli()
	}
	if exp := life.expiry(); exp != 0 {
		expiresMs = s.expTime(exp).UnixMilli()
	}
	return ageEndMs, expiresMs, life.refreshed()
}

// importLife is a handed-over stream's deadlines in this process's stamps.
// A stream that came without an age limit (from a build without one) gets
// one drawn now when --max-conn-age is set, as a new stream would.
func (ls *loopState) importLife(ageEndMs, expiresMs int64, refreshed bool, now time.Time) conntable.TimerID {
	s := ls.s
	var life streamLife
	switch {
	case ageEndMs != 0:
		life |= streamLife(s.lifeStamp(time.UnixMilli(ageEndMs), lifeAgeMask))
	case s.cfg.MaxConnAge > 0:
		life |= streamLife(s.lifeStamp(now.Add(ls.ageLimit()), lifeAgeMask))
	}
	if expiresMs != 0 {
		life |= streamLife(s.expStamp(time.UnixMilli(expiresMs))) << lifeExpShift
	}
	if refreshed {
		life |= lifeRefreshed
	}
	return conntable.TimerID(life)
}
