package server

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// answerError answers an edge or api request with status and a JSON error,
// keeping the connection when the request allows.
func (ls *Loop) answerError(l *engine.Loop, h engine.Handle, req *httpcodec.Request, status int, reason string) {
	ls.out = httpcodec.AppendErrorResponse(ls.out[:0], status, reason, httpcodec.Persistence(req))
	ls.writeAnswer(l, h, req, ls.out)
}

// The methods each target answers, for the Allow field of a 405.
const (
	allowSub   = "GET, HEAD, OPTIONS"
	allowAck   = "POST, OPTIONS"
	allowPub   = "POST"
	allowAdmin = "GET, HEAD"
	allowConn  = "GET, HEAD, DELETE"
)

// answerNotAllowed answers 405 naming the methods the target answers.
func (ls *Loop) answerNotAllowed(l *engine.Loop, h engine.Handle, req *httpcodec.Request, allow, reason string) {
	ls.out = httpcodec.AppendNotAllowed(ls.out[:0], allow, reason, httpcodec.Persistence(req))
	ls.writeAnswer(l, h, req, ls.out)
}

// originIndex returns 1 + the index of origin in --allowed-origins, or 0.
// Connections keep this byte instead of the Origin header's bytes.
func (s *Node) originIndex(origin []byte) uint8 {
	for i, o := range s.cfg.AllowedOrigins {
		if i < 255 && string(origin) == o {
			return uint8(i + 1)
		}
	}
	return 0
}

// appendCORS adds the CORS headers of SPEC §3: "*" for any origin, else the
// allowed origin echoed with credentials allowed.
func (s *Node) appendCORS(dst []byte, origin uint8) []byte {
	allowed := s.cfg.AllowedOrigins
	if len(allowed) == 1 && allowed[0] == "*" {
		return httpcodec.AppendHeader(dst, "Access-Control-Allow-Origin", "*")
	}
	if origin == 0 {
		return dst
	}
	dst = httpcodec.AppendHeader(dst, "Access-Control-Allow-Origin", allowed[origin-1])
	dst = httpcodec.AppendHeader(dst, "Access-Control-Allow-Credentials", "true")
	return httpcodec.AppendHeader(dst, "Vary", "Origin")
}

// preflight answers a CORS OPTIONS request.
func (ls *Loop) preflight(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	ls.out = ls.appendPreflight(ls.out[:0], httpcodec.Persistence(req), req.Header("Origin"), req.Header("Access-Control-Request-Headers"))
	l.Write(h, ls.out)
}

// appendPreflight appends the answer to a CORS preflight from origin asking
// for the headers asked; HTTP/2 streams get the same (h2edge.go).
func (ls *Loop) appendPreflight(dst []byte, p httpcodec.Persist, origin, asked []byte) []byte {
	dst = httpcodec.AppendResponseHead(dst, 204, p)
	dst = ls.s.appendCORS(dst, ls.s.originIndex(origin))
	dst = httpcodec.AppendHeader(dst, "Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if len(asked) > 0 && headerTokens(asked) {
		dst = httpcodec.AppendHeaderBytes(dst, "Access-Control-Allow-Headers", asked)
	} else {
		dst = httpcodec.AppendHeader(dst, "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	}
	dst = httpcodec.AppendHeader(dst, "Access-Control-Max-Age", "600")
	return append(dst, "\r\n"...)
}

// headerTokens reports that v is a comma-separated list of header names, so
// echoing it back cannot inject anything.
func headerTokens(v []byte) bool {
	for _, b := range v {
		ok := b == ',' || b == ' ' || b == '-' || b == '_' ||
			(b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// queryParams are the subscribe parameters of SPEC §3, percent-decoded.
type queryParams struct {
	format []byte
	user   []byte
	since  []byte
	conn   []byte
	id     []byte
	token  []byte // a subscriber token (SPEC §6), when not in Authorization
	last   []byte // ?last=N (gap.go)
	topics [][]byte
	bad    bool
}

// maxTopicsPerConn bounds what one subscribe may ask for.
const maxTopicsPerConn = 64

// parseQuery decodes the parameters pushwire reads, into buf's storage.
func parseQuery(q *queryParams, query, buf []byte) []byte {
	*q = queryParams{topics: q.topics[:0]}
	httpcodec.QueryEach(query, func(key, value []byte) bool {
		start := len(buf)
		var err error
		buf, err = httpcodec.AppendUnescape(buf, value)
		if err != nil {
			q.bad = true
			return false
		}
		v := buf[start:len(buf):len(buf)]
		switch string(key) {
		case "topic":
			if len(q.topics) == maxTopicsPerConn || len(v) == 0 {
				q.bad = true
				return false
			}
			q.topics = append(q.topics, v)
		case "user":
			q.user = v
		case "format":
			q.format = v
		case "since":
			q.since = v
		case "conn":
			q.conn = v
		case "id":
			q.id = v
		case "token":
			q.token = v
		case "last":
			q.last = v
		}
		return true
	})
	return buf
}
