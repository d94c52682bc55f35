package edge

import (
	"bytes"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// HEAD (RFC 9110 §9.3.2, SPEC §7) is served by the GET route, and its answer
// is the GET answer's head alone: the same status and fields, Content-Length
// included, so a probe learns what a GET would get. A body would be read by a
// keep-alive client as the start of its next answer.

// IsHead reports a HEAD request.
func IsHead(req *httpcodec.Request) bool { return string(req.Method()) == "HEAD" }

// IsGet reports a GET or a HEAD: the requests a GET route answers.
func IsGet(method []byte) bool { return string(method) == "GET" || string(method) == "HEAD" }

// HeadOnly returns answer without its body: up to the blank line that ends
// its head. Answers are ours, so the first CRLFCRLF is that line.
func HeadOnly(answer []byte) []byte {
	if i := bytes.Index(answer, []byte("\r\n\r\n")); i >= 0 {
		return answer[:i+4]
	}
	return answer
}

// WriteAnswer writes the whole answer to req, or its head alone when req is
// a HEAD.
func (ls *Loop) WriteAnswer(l *engine.Loop, h engine.Handle, req *httpcodec.Request, answer []byte) {
	if IsHead(req) {
		answer = HeadOnly(answer)
	}
	ls.s.Glue.Reply(l, h, answer) // behind the connection's answers in flight, if any (publish/pipeline.go)
}
