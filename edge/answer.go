package edge

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// AnswerError answers an edge or api request with status and a JSON error,
// keeping the connection when the request allows.
func (ls *Loop) AnswerError(l *engine.Loop, h engine.Handle, req *httpcodec.Request, status int, reason string) {
	ls.Out = httpcodec.AppendErrorResponse(ls.Out[:0], status, reason, httpcodec.Persistence(req))
	ls.WriteAnswer(l, h, req, ls.Out)
}

// The methods each target answers, for the Allow field of a 405.
const (
	AllowSub   = "GET, HEAD, OPTIONS"
	AllowAck   = "POST, OPTIONS"
	AllowPub   = "POST"
	AllowAdmin = "GET, HEAD"
	AllowConn  = "GET, HEAD, DELETE"
)

// AnswerNotAllowed answers 405 naming the methods the target answers.
func (ls *Loop) AnswerNotAllowed(l *engine.Loop, h engine.Handle, req *httpcodec.Request, allow, reason string) {
	ls.Out = httpcodec.AppendNotAllowed(ls.Out[:0], allow, reason, httpcodec.Persistence(req))
	ls.WriteAnswer(l, h, req, ls.Out)
}

// OriginIndex returns 1 + the index of origin in --allowed-origins, or 0.
// Connections keep this byte instead of the Origin header's bytes.
func (s *Node) OriginIndex(origin []byte) uint8 {
	for i, o := range s.Cfg.AllowedOrigins {
		if i < 255 && string(origin) == o {
			return uint8(i + 1)
		}
	}
	return 0
}

// AppendCORS adds the CORS headers of SPEC §3: "*" for any origin, else the
// allowed origin echoed with credentials allowed.
func (s *Node) AppendCORS(dst []byte, origin uint8) []byte {
	allowed := s.Cfg.AllowedOrigins
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

// Preflight answers a CORS OPTIONS request.
func (ls *Loop) Preflight(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	ls.Out = ls.AppendPreflight(ls.Out[:0], httpcodec.Persistence(req), req.Header("Origin"), req.Header("Access-Control-Request-Headers"))
	l.Write(h, ls.Out)
}

// AppendPreflight appends the answer to a CORS preflight from origin asking
// for the headers asked; HTTP/2 streams get the same (h2edge/requests.go).
func (ls *Loop) AppendPreflight(dst []byte, p httpcodec.Persist, origin, asked []byte) []byte {
	dst = httpcodec.AppendResponseHead(dst, 204, p)
	dst = ls.s.AppendCORS(dst, ls.s.OriginIndex(origin))
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

// QueryParams are the subscribe parameters of SPEC §3, percent-decoded.
type QueryParams struct {
	Format []byte
	User   []byte
	Since  []byte
	Conn   []byte
	Id     []byte
	Token  []byte // a subscriber token (SPEC §6), when not in Authorization
	Last   []byte // ?last=N (subscribe/gap.go)
	Topics [][]byte
	Bad    bool
}

// maxTopicsPerConn bounds what one subscribe may ask for.
const maxTopicsPerConn = 64

// ParseQuery decodes the parameters pushwire reads, into buf's storage.
func ParseQuery(q *QueryParams, query, buf []byte) []byte {
	*q = QueryParams{Topics: q.Topics[:0]}
	httpcodec.QueryEach(query, func(key, value []byte) bool {
		start := len(buf)
		var err error
		buf, err = httpcodec.AppendUnescape(buf, value)
		if err != nil {
			q.Bad = true
			return false
		}
		v := buf[start:len(buf):len(buf)]
		switch string(key) {
		case "topic":
			if len(q.Topics) == maxTopicsPerConn || len(v) == 0 {
				q.Bad = true
				return false
			}
			q.Topics = append(q.Topics, v)
		case "user":
			q.User = v
		case "format":
			q.Format = v
		case "since":
			q.Since = v
		case "conn":
			q.Conn = v
		case "id":
			q.Id = v
		case "token":
			q.Token = v
		case "last":
			q.Last = v
		}
		return true
	})
	return buf
}

// CopyOf makes q a copy of src's user and topics, which outlives the
// request's bytes, and returns q.
func (q *QueryParams) CopyOf(src *QueryParams) *QueryParams {
	q.User = cloneBytes(src.User)
	q.Topics = make([][]byte, len(src.Topics))
	for i, t := range src.Topics {
		q.Topics[i] = cloneBytes(t)
	}
	return q
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
