package h2edge

import (
	"strconv"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/httpcodec/h2"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/subscribe"
)

// h2Request answers one request on an HTTP/2 stream of the edge: the same
// routes, status codes, fields and bodies as HTTP/1.1 (server/serveedge.go), the
// answers built by the same code and carried in HEADERS and DATA.
func (ls *H2Loop) h2Request(l *engine.Loop, h engine.Handle, hc *h2Conn, id uint32) {
	req := hc.codec.Request()
	method, path := req.Method(), req.Path()
	head := string(method) == "HEAD"
	switch {
	case string(method) == "OPTIONS":
		ls.Out = ls.AppendPreflight(ls.Out[:0], httpcodec.Persist11, req.Header("origin"), req.Header("access-control-request-headers"))
		ls.h2Answer(l, h, hc, id, ls.Out, false, false)
	case string(path) == "/sub":
		switch {
		case !edge.IsGet(method):
			ls.h2NotAllowed(l, h, hc, id, head, edge.AllowSub, "use GET to subscribe")
		case ls.s.Draining.Load():
			ls.h2Error(l, h, hc, id, head, 503, "node is draining; reconnect elsewhere")
		default:
			ls.h2Subscribe(l, h, hc, id, req, head)
		}
	case string(path) == "/ack":
		if string(method) != "POST" {
			ls.h2NotAllowed(l, h, hc, id, head, edge.AllowAck, "use POST to acknowledge")
			return
		}
		ls.h2Ack(l, h, hc, id, req)
	default:
		ls.h2Error(l, h, hc, id, head, 404, "no such endpoint on the edge listener: use GET /sub or POST /ack")
	}
}

// h2Error answers stream id with status and a JSON error, as HTTP/1.1 does.
func (ls *H2Loop) h2Error(l *engine.Loop, h engine.Handle, hc *h2Conn, id uint32, head bool, status int, reason string) {
	ls.Out = httpcodec.AppendErrorResponse(ls.Out[:0], status, reason, httpcodec.Persist11)
	ls.h2Answer(l, h, hc, id, ls.Out, head, false)
}

// h2NotAllowed answers 405 on stream id with the Allow field.
func (ls *H2Loop) h2NotAllowed(l *engine.Loop, h engine.Handle, hc *h2Conn, id uint32, head bool, allow, reason string) {
	ls.Out = httpcodec.AppendNotAllowed(ls.Out[:0], allow, reason, httpcodec.Persist11)
	ls.h2Answer(l, h, hc, id, ls.Out, head, false)
}

// h2Subscribe starts a subscriber on stream id: its own conn key (the
// Push-Conn field), its own memberships, its frames as DATA on the stream.
func (ls *H2Loop) h2Subscribe(l *engine.Loop, h engine.Handle, hc *h2Conn, id uint32, req *h2.Request, head bool) {
	sn := &ls.Reading // not on the heap per subscribe (subscribe.SubLoop)
	var reason string
	*sn, reason = ls.ReadSubscribe(req.Query(), req.Header("accept"), req.Header("last-event-id"), req.Header("origin"))
	switch {
	case reason != "":
		ls.h2Error(l, h, hc, id, head, 400, reason)
		return
	}
	sn.Minor, sn.KeepAlive, sn.Persist, sn.Head = edge.FramingH2, true, httpcodec.Persist11, head
	// The stream's record stands for the subscribe while auth decides.
	from, st := ls.NewStream(h, id)
	st.Mode = edge.ModeAsync
	hc.subs = append(hc.subs, from)
	sn.Stream = from
	if ls.s.Auth != nil {
		ls.Authorize(l, h, nil, req, sn)
		return
	}
	ls.H2Start(l, sn)
}

// H2Start starts an allowed subscribe on its stream: the record becomes a
// subscriber with its own conn key (the Push-Conn field), its own
// memberships, its frames as DATA on the stream. A HEAD gets the head alone.
func (ls *H2Loop) H2Start(l *engine.Loop, sn *subscribe.Subscription) {
	if ls.GateUser(l, engine.Handle(sn.Stream), nil, sn) { // userpolicy/admission.go
		return
	}
	defer func() { ls.PresetKey = [2]uint64{} }()
	sub := sn.Stream
	st := ls.Stream(sub)
	if st == nil {
		return // reset while auth decided
	}
	conn := st.Conn
	hc := ls.h2Of(conn)
	if sn.Head {
		ls.Out = ls.AppendStreamHead(ls.Out[:0], sn, httpcodec.Persist11, nil)
		ls.H2Finish(l, sub, ls.Out, true)
		return
	}
	st.Minor = edge.FramingH2
	if sn.Format == push.Poll {
		ls.PollInterest(sn.Q, l.Now())
		ls.Register(sub, &st.SubState, sn.Q)
		ls.Poll(l, sub, &st.SubState, sn)
		return
	}
	ls.Register(sub, &st.SubState, sn.Q)
	var key [edge.KeyTextLen + 65]byte
	keyText := ls.s.AppendKeyText(key[:0], ls.KeyOf(sub))
	ls.Out = ls.AppendStreamHead(ls.Out[:0], sn, httpcodec.Persist11, keyText)
	ls.h2Answer(l, conn, hc, st.Id, ls.Out, false, true)
	ls.StartStream(l, sub, &st.SubState, conn, sn, keyText)
}

// h2Ack answers POST /ack on stream id: like HTTP/1.1's (mesh/async.go), the
// subscriber's loop acks and answers; the answer comes back to a stream
// record that stands for the request meanwhile (H2FinishAsync).
func (ls *H2Loop) h2Ack(l *engine.Loop, h engine.Handle, hc *h2Conn, id uint32, req *h2.Request) {
	ls.Query = edge.ParseQuery(&ls.Q, req.Query(), ls.Query[:0])
	upTo, err := strconv.ParseUint(string(ls.Q.Id), 10, 64)
	if ls.Q.Bad || err != nil || len(ls.Q.Conn) == 0 {
		ls.h2Error(l, h, hc, id, false, 400, "ack needs ?conn=<key>&id=<message id>")
		return
	}
	key, node, ok := edge.ParseKeyText(ls.Q.Conn)
	var target conntable.Sub
	if ok && (node == nil || string(node) == ls.s.ID) {
		target, ok = ls.s.LookupKey(key)
	}
	if !ok {
		ls.h2Error(l, h, hc, id, false, 404, "no live connection with that key on this node")
		return
	}
	from, st := ls.NewStream(h, id)
	st.Mode = edge.ModeAsync
	hc.subs = append(hc.subs, from)
	call := &mesh.AsyncCall{From: engine.Handle(from), Target: engine.Handle(target), Kind: mesh.AsyncAck, UpTo: upTo, KeepAlive: httpcodec.Persist11}
	ls.s.Eng.Submit(target.Loop(), engine.Task{H: call.Target, Op: mesh.OpConnCall, V: call})
}

// H2FinishAsync writes an async answer on the stream that asked for it.
func (ls *H2Loop) H2FinishAsync(l *engine.Loop, from conntable.Sub, call *mesh.AsyncCall) {
	ls.H2Finish(l, from, call.Reply, call.Head)
}

// H2Finish writes answer (one of our HTTP/1.1 answers) on the stream whose
// record from stood for the request, and frees the record.
func (ls *H2Loop) H2Finish(l *engine.Loop, from conntable.Sub, answer []byte, head bool) {
	st := ls.Stream(from)
	if st == nil {
		return // the stream was reset meanwhile
	}
	conn := st.Conn
	if hc := ls.h2Of(conn); hc != nil {
		ls.h2Answer(l, conn, hc, st.Id, answer, head, false)
		ls.h2Forget(l, hc, from)
	}
}

// H2AnswerPoll answers the long-poll on stream subscriber sub (see
// subscribe/poll.go AnswerPoll): the same answer as over HTTP/1.1, ending the stream, which
// leaves the table.
func (ls *H2Loop) H2AnswerPoll(l *engine.Loop, sub conntable.Sub, c *edge.SubState, extra []*edge.Message, final bool) bool {
	body, ok := ls.PollBody(l, engine.Handle(sub), c, extra, final)
	if !ok {
		return false
	}
	ls.Out = ls.AppendPollAnswer(ls.Out[:0], httpcodec.Persist11, c.Origin, body)
	ls.CancelSubTimer(c)
	ls.H2Finish(l, sub, ls.Out, false)
	return true
}
