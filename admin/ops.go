package admin

import (
	"bytes"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// The operations endpoints of the api listener (SPEC §9), answered through
// the loop's edge.Answers: what they read of the node is Node, which the
// glue implements (server/figures.go). /conn/<key> stays in the glue: it
// acts on another loop's connection (mesh/async.go).

// Node is what the operations endpoints read of the node they run on.
type Node interface {
	AppendStats(dst []byte) []byte // the /stats object
	Draining() bool
	// AppendMetrics appends the whole /metrics exposition; it reads the
	// process's figures from /proc, so it is called off the loop.
	AppendMetrics(dst []byte) []byte
}

// ServeOps answers GET or HEAD /healthz, /readyz, /stats and /metrics;
// false when path is none of them.
func ServeOps(a edge.Answers, n Node, h engine.Handle, req *httpcodec.Request, path []byte) bool {
	out, body := a.Scratch()
	switch string(path) {
	case "/healthz":
		*out = httpcodec.AppendJSONResponse((*out)[:0], 200, httpcodec.Persistence(req), []byte(`{"status":"ok"}`))
	case "/readyz":
		status, b := 200, []byte(`{"status":"ready"}`)
		if n.Draining() {
			status, b = 503, []byte(`{"status":"draining","error":"node is draining"}`)
		}
		*out = httpcodec.AppendJSONResponse((*out)[:0], status, httpcodec.Persistence(req), b)
	case "/stats":
		*body = n.AppendStats((*body)[:0])
		*out = httpcodec.AppendJSONResponse((*out)[:0], 200, httpcodec.Persistence(req), *body)
	case "/metrics":
		serveMetrics(a, n, h, req)
		return true
	default:
		return false
	}
	a.Answer(h, req, *out)
	return true
}

// serveMetrics answers GET /metrics in a goroutine: reading the process's
// figures walks /proc (its open descriptors: one per connection), which an
// event loop must not wait for.
func serveMetrics(a edge.Answers, n Node, h engine.Handle, req *httpcodec.Request) {
	persist, reply := a.Later(h, req)
	go func() {
		body := n.AppendMetrics(nil)
		dst := httpcodec.AppendResponseHead(nil, 200, persist)
		reply(httpcodec.AppendBody(dst, "text/plain; version=0.0.4; charset=utf-8", body))
	}()
}

// answerError answers status with {"error": reason}.
func answerError(a edge.Answers, h engine.Handle, req *httpcodec.Request, status int, reason string) {
	out, _ := a.Scratch()
	*out = httpcodec.AppendErrorResponse((*out)[:0], status, reason, httpcodec.Persistence(req))
	a.Answer(h, req, *out)
}

// ServePprof serves /debug/pprof/ with the standard handlers in a goroutine
// (a CPU profile takes seconds) and sends the answer back to the loop.
func ServePprof(a edge.Answers, h engine.Handle, req *httpcodec.Request) {
	target := string(req.Target())
	persist, reply := a.Later(h, req)
	go func() {
		r, err := http.NewRequest("GET", target, nil)
		w := &bufferedResponse{header: http.Header{}, status: 200}
		if err != nil {
			w.status = 400
		} else {
			name, _ := strings.CutPrefix(r.URL.Path, "/debug/pprof/")
			switch name {
			case "cmdline":
				pprof.Cmdline(w, r)
			case "profile":
				pprof.Profile(w, r)
			case "symbol":
				pprof.Symbol(w, r)
			case "trace":
				pprof.Trace(w, r)
			default:
				pprof.Index(w, r)
			}
		}
		dst := httpcodec.AppendResponseHead(nil, w.status, persist)
		ctype := w.header.Get("Content-Type")
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
		reply(httpcodec.AppendBody(dst, ctype, w.body.Bytes()))
	}()
}

// bufferedResponse is the http.ResponseWriter pprof writes into.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header         { return w.header }
func (w *bufferedResponse) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *bufferedResponse) WriteHeader(status int)      { w.status = status }
