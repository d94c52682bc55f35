package server

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// serveEdge answers one request on the edge listener: subscribe, ack, CORS
// preflight.
func (ls *loopState) serveEdge(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request) {
	path, method := req.Path(), req.Method()
	switch {
	case string(method) == "OPTIONS":
		ls.preflight(l, h, req)
	case string(path) == "/sub":
		if !isGet(method) {
			ls.answerNotAllowed(l, h, req, allowSub, "use GET to subscribe")
			return
		}
		if ls.s.draining.Load() {
			ls.answerError(l, h, req, 503, "node is draining; reconnect elsewhere")
			return
		}
		ls.subscribe(l, h, c, req)
	case string(path) == "/ack":
		if string(method) != "POST" {
			ls.answerNotAllowed(l, h, req, allowAck, "use POST to acknowledge")
			return
		}
		ls.ack(l, h, req)
	default:
		ls.out = httpcodec.AppendErrorResponse(ls.out[:0], 404, "no such endpoint on the edge listener: use GET /sub or POST /ack", httpcodec.Persistence(req))
		ls.writeAnswer(l, h, req, ls.out)
	}
}
