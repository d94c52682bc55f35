package h2edge

import (
	"errors"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec/h2"
)

// What an upgrade's hand-off (upgrade/h2.go) needs of a loop's HTTP/2
// connections: whether one can move, its codec's state and its streams on the
// old side, and the same given back on the new side. The hand-off decides
// when; these only read or set the connection's HTTP/2 state. Each runs on
// the connection's loop (or, adopting, before the loops start).

// Settle answers connection conn's waiting long-polls (204: the client asks
// again, of the new process) and reports whether any of its streams still
// waits for an answer made elsewhere (an auth verdict, an ack's answer, a QoS
// 1 replay on its way) and whether its codec is quiet enough to move
// (h2.Conn.Movable: handshake done, between frames, no header block open).
func (ls *H2Loop) Settle(l *engine.Loop, conn engine.Handle) (answering, movable bool) {
	hc := ls.h2Of(conn)
	if hc == nil {
		return false, false
	}
	for i := len(hc.subs) - 1; i >= 0; i-- { // backwards: an answered poll leaves the list
		sub := hc.subs[i]
		st := ls.Stream(sub)
		if st == nil {
			continue
		}
		if st.Mode == edge.ModePoll && ls.H2AnswerPoll(l, sub, &st.SubState, nil, true) {
			continue
		}
		if _, held := ls.Held[engine.Handle(sub)]; held || st.Mode != edge.ModeStream {
			answering = true
		}
	}
	return answering, hc.codec.Movable()
}

// Streams are the stream subscribers (and streams awaiting an answer) of
// connection conn; nil when conn is not HTTP/2. The loop's own list: read it,
// do not keep it.
func (ls *H2Loop) Streams(conn engine.Handle) []conntable.Sub {
	if hc := ls.h2Of(conn); hc != nil {
		return hc.subs
	}
	return nil
}

// ExportH2 returns connection conn's codec state (h2.Conn.AppendState) and
// its PINGs awaiting their ACK. It changes nothing: a failed hand-off carries
// on with the connection.
func (ls *H2Loop) ExportH2(conn engine.Handle) (codec []byte, pings uint8, err error) {
	hc := ls.h2Of(conn)
	if hc == nil {
		return nil, 0, errNotH2
	}
	codec, err = hc.codec.AppendState(nil)
	return codec, hc.pings, err
}

// AdoptH2 gives c, an adopted connection in edge.ModeH2 with no codec yet,
// the codec restored from state, and returns the ids of the streams that
// codec holds open (AdoptH2Stream attaches their subscribers).
func (ls *H2Loop) AdoptH2(c *edge.ConnState, state []byte, pings uint8) (streamIDs []uint32, err error) {
	codec, err := h2.Restore(state)
	if err != nil {
		return nil, err
	}
	ls.attachH2(c, &h2Conn{codec: codec, pings: pings})
	ls.s.H2Conns.Add(1)
	return codec.StreamIDs(nil), nil
}

// AdoptH2Stream puts subscriber sub, an adopted stream record, on
// connection conn's list.
func (ls *H2Loop) AdoptH2Stream(conn engine.Handle, sub conntable.Sub) {
	if hc := ls.h2Of(conn); hc != nil {
		hc.subs = append(hc.subs, sub)
	}
}

// errNotH2 says a hand-off asked for the HTTP/2 state of a connection that
// has none.
var errNotH2 = errors.New("h2edge: not an HTTP/2 connection")
