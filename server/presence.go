package server

import (
	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// Presence (SPEC §9): GET /presence/user/<id>, /presence/topic/<name> and
// /topics answer cluster-wide from any node; the queries, their links to the
// peers and the answers are admin's (admin/presence.go). A query runs on a
// goroutine of its own and its answer comes back to the loop like /metrics',
// so no loop waits on a peer or walks a table.

// presence answers the presence endpoints. Bad input is answered at once;
// a good request goes to a goroutine, the connection waiting in modeAsync.
func (ls *loopState) presence(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request, path []byte) {
	var q cluster.Query // its Name is a copy: it outlives the request's bytes
	var status int
	var reason string
	if ls.query, status, reason = admin.ParsePresence(&q, path, req.Query(), ls.query); status != 0 {
		ls.answerError(l, h, req, status, reason)
		return
	}
	cn := ls.s.cluster
	if !cn.presence.Acquire() {
		ls.answerError(l, h, req, 503, "too many presence queries at once on this node; retry")
		return
	}
	call := &asyncCall{from: h, kind: asyncPprof, keepAlive: httpcodec.Persistence(req), head: isHead(req)}
	c.mode = modeAsync
	go func() {
		defer cn.presence.Release()
		status, body := cn.presence.Answer(&q)
		call.reply = httpcodec.AppendJSONResponse(nil, status, call.keepAlive, body)
		ls.s.eng.Submit(h.Loop(), engine.Task{H: h, Op: opAsyncReply, V: call})
	}()
}
