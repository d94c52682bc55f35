package server

import (
	"bytes"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// HEAD (RFC 9110 §9.3.2, SPEC §7) is served by the GET route, and its answer
// is the GET answer's head alone: the same status and fields, Content-Length
// included, so a probe learns what a GET would get. A body would be read by a
// keep-alive client as the start of its next answer.

// isHead reports a HEAD request.
func isHead(req *httpcodec.Request) bool { return string(req.Method()) == "HEAD" }

// isGet reports a GET or a HEAD: the requests a GET route answers.
func isGet(method []byte) bool { return string(method) == "GET" || string(method) == "HEAD" }

// headOnly returns answer without its body: up to the blank line that ends
// its head. Answers are ours, so the first CRLFCRLF is that line.
func headOnly(answer []byte) []byte {
	if i := bytes.Index(answer, []byte("\r\n\r\n")); i >= 0 {
		return answer[:i+4]
	}
	return answer
}

// writeAnswer writes the whole answer to req, or its head alone when req is
// a HEAD.
func (ls *loopState) writeAnswer(l *engine.Loop, h engine.Handle, req *httpcodec.Request, answer []byte) {
	if isHead(req) {
		answer = headOnly(answer)
	}
	l.Write(h, answer)
}

// answerSubscribeHead answers HEAD /sub once it is allowed: the head its GET
// would get, and no stream. Nothing is registered, so the head has no
// Push-Conn (it would name a connection that does not exist); a long-poll's
// head has no Content-Length (its body is not known before messages come).
// The connection stays open as the head says: HTTP/1.0 streams are
// close-delimited, so their head says "Connection: close" and it closes.
func (ls *loopState) answerSubscribeHead(l *engine.Loop, h engine.Handle, c *connState, sub *subscription) {
	p := sub.persist
	if sub.format == push.Poll {
		dst := httpcodec.AppendResponseHead(ls.out[:0], 200, p)
		dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
		dst = ls.s.appendCORS(dst, sub.origin)
		dst = httpcodec.AppendHeader(dst, "Content-Type", "application/json")
		ls.out = append(dst, "\r\n"...)
	} else {
		if sub.minor == 0 {
			p = httpcodec.PersistClose
		}
		ls.out = ls.appendStreamHead(ls.out[:0], sub, p, nil)
	}
	l.Write(h, ls.out)
	if !p.Keep() {
		c.mode = modeClosing
		l.CloseAfterFlush(h)
	}
}
