package mesh

import (
	"strconv"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// An asyncCall is a request whose answer is made away from the connection's
// loop: on the loop that owns another connection (GET/DELETE /conn, /ack), or
// in a goroutine (pprof). While it runs, the requesting connection is in
// modeAsync: later pipelined requests stay unread in the engine's carry and
// are served, in order, once the answer is written (Loop.Resume).
type AsyncCall struct {
	From      engine.Handle // the requesting connection
	Target    engine.Handle // the connection asked about
	Kind      asyncKind
	UpTo      uint64
	KeepAlive httpcodec.Persist
	Head      bool   // a HEAD request: only reply's head is written
	Reply     []byte // the whole HTTP answer
}

type asyncKind uint8

const (
	asyncDescribe asyncKind = iota
	asyncKick
	AsyncAck
	AsyncPprof
)

// ConnAdmin answers GET and DELETE /conn/<key> on the api listener.
func (ls *MeshLoop) ConnAdmin(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request, keyText []byte) {
	kind := asyncDescribe
	switch string(req.Method()) {
	case "GET", "HEAD":
	case "DELETE":
		kind = asyncKick
	default:
		ls.AnswerNotAllowed(l, h, req, edge.AllowConn, "use GET or DELETE on /conn/<key>")
		return
	}
	ls.askOwner(l, h, c, req, keyText, kind, 0)
}

// Ack answers POST /ack?conn=<key>&id=<msg id> on the edge listener.
func (ls *MeshLoop) Ack(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	ls.Query = edge.ParseQuery(&ls.Q, req.Query(), ls.Query[:0])
	id, err := strconv.ParseUint(string(ls.Q.Id), 10, 64)
	if ls.Q.Bad || err != nil || len(ls.Q.Conn) == 0 {
		ls.AnswerError(l, h, req, 400, "ack needs ?conn=<key>&id=<message id>")
		return
	}
	ls.askOwner(l, h, ls.Live(h), req, ls.Q.Conn, AsyncAck, id)
}

// askOwner sends a call to the loop that owns the connection named by
// keyText; 404 at once when no such connection lives here.
func (ls *MeshLoop) askOwner(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request, keyText []byte, kind asyncKind, upTo uint64) {
	key, node, ok := edge.ParseKeyText(keyText)
	var target conntable.Sub
	if ok && (node == nil || string(node) == ls.s.ID) {
		target, ok = ls.s.LookupKey(key)
	}
	if !ok {
		ls.AnswerError(l, h, req, 404, "no live connection with that key on this node")
		return
	}
	if ok = ls.Live(h) != nil; !ok {
		return
	}
	call := &AsyncCall{From: h, Target: engine.Handle(target), Kind: kind, UpTo: upTo, KeepAlive: httpcodec.Persistence(req), Head: edge.IsHead(req)}
	c.Mode = edge.ModeAsync
	ls.s.Eng.Submit(engine.Handle(target).Loop(), engine.Task{H: call.Target, Op: OpConnCall, V: call})
}

// RunConnCall runs on the target's loop: it describes, kicks or acks the
// connection as the call asks and sends the answer back to the caller's loop.
func (ls *MeshLoop) RunConnCall(l *engine.Loop, call *AsyncCall) {
	c, conn := ls.SubscriberOf(conntable.Sub(call.Target))
	var body []byte
	status := 200
	switch {
	case c == nil || !c.Subscribed:
		status, body = 404, httpcodec.AppendErrorObject(nil, "no live connection with that key on this node")
	case call.Kind == asyncKick:
		body = []byte(`{"kicked":true}`)
		ls.Kick(l, conntable.Sub(call.Target), c, conn)
	case call.Kind == AsyncAck:
		user := ls.SubUser(c)
		if user == nil {
			status, body = 400, httpcodec.AppendErrorObject(nil, "this connection has no user, so nothing is stored for it")
			break
		}
		ls.s.Acks.Add(1)
		// Only what this node sent to the user's connections (store/sentlog.go).
		var later bool
		if body, later = ls.s.Store.ack(call, user, l.Now().UnixMilli()); later {
			return // the router answers the caller
		}
	default:
		body = ls.appendConnInfo(nil, l, conntable.Sub(call.Target), c, conn)
	}
	call.Reply = httpcodec.AppendJSONResponse(nil, status, call.KeepAlive, body)
	ls.s.Eng.Submit(call.From.Loop(), engine.Task{H: call.From, Op: OpAsyncReply, V: call})
}

// appendConnInfo appends the JSON description of a subscriber.
func (ls *MeshLoop) appendConnInfo(dst []byte, l *engine.Loop, sub conntable.Sub, c *edge.SubState, conn engine.Handle) []byte {
	dst = append(dst, `{"conn":"`...)
	dst = ls.s.AppendKeyText(dst, ls.KeyOf(sub))
	dst = append(dst, `","node":`...)
	dst = httpcodec.AppendJSONString(dst, []byte(ls.s.ID))
	dst = append(dst, `,"user":`...)
	dst = httpcodec.AppendJSONString(dst, ls.SubUser(c))
	dst = append(dst, `,"topics":[`...)
	first := true
	for _, m := range ls.SubMembers(c) {
		name, g, ok := ls.s.Table.AppendName(ls.Names[:0], m)
		ls.Names = name
		if !ok || g != conntable.Topics {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = httpcodec.AppendJSONString(dst, name)
	}
	dst = append(dst, `],"format":"`...)
	dst = append(dst, c.Format.String()...)
	dst = append(dst, `","pending_bytes":`...)
	dst = strconv.AppendInt(dst, int64(l.Pending(conn)), 10)
	return append(dst, '}')
}

// FinishAsync writes an async answer and has the engine present again the
// requests that arrived meanwhile (it carried them: OnData consumed none).
func (ls *MeshLoop) FinishAsync(l *engine.Loop, h engine.Handle, call *AsyncCall) {
	ls.s.MeshGlue.PublishAnswered(l, h)
	if from := conntable.Sub(h); from.IsStream() { // an HTTP/2 stream asked (h2edge/requests.go)
		ls.s.MeshGlue.H2FinishAsync(l, from, call)
		return
	}
	c := ls.Live(h)
	if c == nil || c.Mode != edge.ModeAsync {
		return
	}
	reply := call.Reply
	if call.Head {
		reply = edge.HeadOnly(reply)
	}
	l.Answer(h, func() { l.Write(h, reply) }) // a profile may be large
	c.Mode = edge.ModeRequest
	if !call.KeepAlive.Keep() {
		c.Mode = edge.ModeClosing
		l.CloseAfterFlush(h)
		return
	}
	ls.SetTimer(c, edge.TimerIdle, l.Now().Add(edge.KeepAliveIdle))
	l.Resume(h)
}
