package server

import (
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// serveEdge answers one request on the edge listener: subscribe, ack, CORS
// preflight.
func (ls *loopState) serveEdge(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request) {
	path, method := req.Path(), req.Method()
	switch {
	case string(method) == "OPTIONS":
		ls.Preflight(l, h, req)
	case string(path) == "/sub":
		if !edge.IsGet(method) {
			ls.AnswerNotAllowed(l, h, req, edge.AllowSub, "use GET to subscribe")
			return
		}
		if ls.s.Draining.Load() {
			ls.AnswerError(l, h, req, 503, "node is draining; reconnect elsewhere")
			return
		}
		ls.Subscribe(l, h, c, req)
	case string(path) == "/ack":
		if string(method) != "POST" {
			ls.AnswerNotAllowed(l, h, req, edge.AllowAck, "use POST to acknowledge")
			return
		}
		ls.Ack(l, h, req)
	default:
		ls.Out = httpcodec.AppendErrorResponse(ls.Out[:0], 404, "no such endpoint on the edge listener: use GET /sub or POST /ack", httpcodec.Persistence(req))
		ls.WriteAnswer(l, h, req, ls.Out)
	}
}
