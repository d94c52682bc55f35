package subscribe

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// OpenStream takes a stream record for stream id of connection conn, with
// the given framing, and enters it in the table as q asks: a subscriber that
// shares its connection. The caller writes the answer's head, then starts
// it (startStream).
func (ls *SubLoop) OpenStream(conn engine.Handle, id uint32, framing uint8, q *edge.QueryParams) (conntable.Sub, *edge.StreamSub) {
	sub, st := ls.NewStream(conn, id)
	st.Minor = framing
	ls.Register(sub, &st.SubState, q)
	return sub, st
}

// DropStream ends stream subscriber sub: out of the table, its held
// messages released, its record freed. Its connection carries on.
func (ls *SubLoop) DropStream(l *engine.Loop, sub conntable.Sub) {
	st := ls.Stream(sub)
	if st == nil {
		return
	}
	ls.DropHeld(l, engine.Handle(sub))
	ls.CancelSubTimer(&st.SubState)
	if st.Subscribed {
		ls.leave(l, sub, &st.SubState)
	}
	ls.FreeStream(sub)
}

// Kick ends subscriber s, named sub (DELETE /conn/<key>): a stream's last
// frame is the kicked control frame (SPEC §3), so its client knows it was
// ended on purpose; then a connection's only subscriber ends with its
// connection (once the frame is written), an HTTP/2 stream alone (END_STREAM).
func (ls *SubLoop) Kick(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle) {
	if s.Mode != edge.ModeStream {
		if sub.IsStream() {
			ls.endStream(l, sub, conn)
		} else {
			l.Close(conn, edge.ErrKicked)
		}
		return
	}
	f, nowMs := s.Format, l.Now().UnixMilli()
	ls.endStreamWith(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendKickedFrame(dst, f, nowMs, ls.s.Boundary)
	})
}

// endStream ends stream subscriber sub on its transport, then drops it.
func (ls *SubLoop) endStream(l *engine.Loop, sub conntable.Sub, conn engine.Handle) {
	if ls.s.SubGlue.H2Cancel(l, sub, conn) {
		return
	}
	ls.DropStream(l, sub)
}
