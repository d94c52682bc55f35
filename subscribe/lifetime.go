package subscribe

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
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
// in modeStream it holds a streamLife. The slot sweep (edge/timers.go) that
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

func (f streamLife) ageEnd() edge.Stamp { return edge.Stamp(f & lifeAgeMask) }
func (f streamLife) expiry() edge.Stamp { return edge.Stamp(f >> lifeExpShift & lifeExpMask) }
func (f streamLife) refreshed() bool    { return f&lifeRefreshed != 0 }

// startLife sets the deadlines of stream s as it starts: its age limit, and
// the expiry its auth gave (sn.expires, unix ms; 0 = none). A stream whose
// auth ends within --refresh-before gets the refresh frame at once.
func (ls *SubLoop) startLife(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle, sn *Subscription) {
	cfg, now := &ls.s.Cfg, l.Now()
	var life streamLife
	if cfg.MaxConnAge > 0 {
		life |= streamLife(ls.s.lifeStamp(now.Add(ls.ageLimit()), lifeAgeMask))
	}
	if sn.expires != 0 {
		life |= streamLife(ls.s.expStamp(time.UnixMilli(sn.expires))) << lifeExpShift
	}
	s.Timer = conntable.TimerID(life)
	if exp := life.expiry(); exp != 0 && !now.Before(ls.s.expTime(exp).Add(-cfg.RefreshBefore)) {
		ls.refresh(l, sub, s, conn, now)
	}
}

// ageLimit draws a stream's own age limit, uniformly in [0.9, 1]×--max-conn-age.
func (ls *SubLoop) ageLimit() time.Duration {
	age := ls.s.Cfg.MaxConnAge
	return age - time.Duration(ls.Rng.Uint64()%uint64(age/edge.AgeJitter+1))
}

// lifeStamp is t as a deadline stamp: never 0 (which means none), and none
// when t lies beyond what limit holds (years after the node started).
func (s *Subscribing) lifeStamp(t time.Time, limit edge.Stamp) edge.Stamp {
	if t.Before(s.Started) {
		return 1
	}
	if d := t.Sub(s.Started) / edge.StampUnit; d < time.Duration(limit) {
		return edge.Stamp(max(d, 1))
	}
	return 0
}

// expStamp is an expiry as whole seconds since the second the node started,
// rounded up: never 0 (none), and none beyond 68 years.
func (s *Subscribing) expStamp(t time.Time) edge.Stamp {
	d := t.Sub(s.Started.Truncate(time.Second))
	secs := (d + time.Second - 1) / time.Second
	if secs > lifeExpMask {
		return 0
	}
	return edge.Stamp(max(secs, 1))
}

// expTime is the time expStamp st stands for.
func (s *Subscribing) expTime(st edge.Stamp) time.Time {
	return s.Started.Truncate(time.Second).Add(time.Duration(st) * time.Second)
}

// LifeDue runs on the sweep's visit to stream s (modeStream, s.timer set):
// it ends a stream whose auth expired or, within the tick's budget, that
// outlived its age limit, or sends the refresh frame when the expiry is near.
// It reports whether it wrote or ended anything (the visit's heartbeat is
// then not needed).
//
// The expiry is enforced early rather than late: the stream ends on the
// first visit within a visit interval of it, so it is never held past its
// auth's end by more than a late tick.
func (ls *SubLoop) LifeDue(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle, now time.Time, visitEvery time.Duration) bool {
	life := streamLife(s.Timer)
	if exp := life.expiry(); exp != 0 {
		at := ls.s.expTime(exp)
		switch {
		case !now.Before(at.Add(-visitEvery)):
			if !life.refreshed() && ls.s.Cfg.RefreshBefore > 0 {
				// --refresh-before shorter than the visit interval: no visit
				// fell between the two, so the frame comes with the end.
				ls.refresh(l, sub, s, conn, now)
			}
			ls.s.Expiries.Add(1)
			ls.endStreamWith(l, sub, s, conn, nil)
			return true
		case !life.refreshed() && !now.Before(at.Add(-ls.s.Cfg.RefreshBefore)):
			ls.refresh(l, sub, s, conn, now)
			return true
		}
	}
	if end := life.ageEnd(); end != 0 && !now.Before(ls.s.TimeOf(end)) && ls.AgeBudget > 0 {
		ls.AgeBudget--
		ls.s.AgeCloses.Add(1)
		f, nowMs, retry := s.Format, now.UnixMilli(), ls.s.Cfg.Retry.Milliseconds()
		ls.endStreamWith(l, sub, s, conn, func(dst []byte) []byte {
			return push.AppendReconnectFrame(dst, f, nowMs, retry, ls.s.Boundary)
		})
		return true
	}
	return false
}

// refresh writes the refresh frame on stream s, once.
func (ls *SubLoop) refresh(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle, now time.Time) {
	life := streamLife(s.Timer)
	s.Timer = conntable.TimerID(life | lifeRefreshed)
	ls.s.Refreshes.Add(1)
	f, nowMs, expMs := s.Format, now.UnixMilli(), ls.s.expTime(life.expiry()).UnixMilli()
	ls.FrameTo(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendRefreshFrame(dst, f, nowMs, expMs, ls.s.Boundary)
	})
}

// endStreamWith ends stream subscriber s, named sub, on purpose: its last
// frame is what frame appends (none when nil), then an HTTP/1.x stream ends
// with its connection (once the frame is written, lingering), an HTTP/2
// stream alone (END_STREAM). It leaves the table at once, so its key answers
// 404 and nothing more is delivered to it.
func (ls *SubLoop) endStreamWith(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle, frame func([]byte) []byte) {
	if frame != nil {
		ls.FrameTo(l, sub, s, conn, frame)
	}
	if s.Format == push.Multipart {
		ls.FrameTo(l, sub, s, conn, func(dst []byte) []byte {
			return push.AppendMultipartClose(dst, ls.s.Boundary)
		})
	}
	if sub.IsStream() {
		ls.s.SubGlue.H2End(l, sub, conn)
		return
	}
	if s.Minor == edge.FramingChunked {
		l.Write(conn, edge.LastChunk)
	}
	// Out of the table at once: the key answers 404 and nothing more is
	// delivered while the connection lingers (CloseAfterFlush waits for the
	// peer's close, bounded).
	ls.leave(l, sub, s)
	c := ls.Live(conn)
	ls.CancelTimer(c)
	c.Mode = edge.ModeClosing
	l.CloseAfterFlush(conn)
}

// ExportLife is stream s's deadlines as absolute times for an upgrade's
// handoff record (unix ms, 0 = none): stamps count from this process's start.
func (s *Subscribing) ExportLife(st *edge.SubState) (ageEndMs, expiresMs int64, refreshed bool) {
	life := streamLife(st.Timer)
	if end := life.ageEnd(); end != 0 {
		ageEndMs = s.TimeOf(end).UnixMilli()
	}
	if exp := life.expiry(); exp != 0 {
		expiresMs = s.expTime(exp).UnixMilli()
	}
	return ageEndMs, expiresMs, life.refreshed()
}

// ImportLife is a handed-over stream's deadlines in this process's stamps.
// A stream that came without an age limit (from a build without one) gets
// one drawn now when --max-conn-age is set, as a new stream would.
func (ls *SubLoop) ImportLife(ageEndMs, expiresMs int64, refreshed bool, now time.Time) conntable.TimerID {
	s := ls.s
	var life streamLife
	switch {
	case ageEndMs != 0:
		life |= streamLife(s.lifeStamp(time.UnixMilli(ageEndMs), lifeAgeMask))
	case s.Cfg.MaxConnAge > 0:
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
