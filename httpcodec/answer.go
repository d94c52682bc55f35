package httpcodec

// Answers: a server builds them into its own scratch and writes them with a copy; all of
// these append to dst and allocate nothing.

// Persist is whether an answer keeps its connection, and how it must say so.
type Persist uint8

const (
	PersistClose Persist = iota // "Connection: close", then close
	Persist11                   // HTTP/1.1 keep-alive: nothing to say
	Persist10                   // HTTP/1.0 keep-alive: "Connection: keep-alive" (RFC 9112 §9.3)
)

// Persistence is how the answer to req treats its connection.
func Persistence(req *Request) Persist {
	switch {
	case !req.KeepAlive():
		return PersistClose
	case req.Minor() == 0:
		return Persist10
	}
	return Persist11
}

// Keep is whether the connection stays open after the answer.
func (p Persist) Keep() bool { return p != PersistClose }

// AppendResponseHead appends the status line and the headers every answer
// carries; the caller adds its own and ends the head with appendBody.
func AppendResponseHead(dst []byte, status int, p Persist) []byte {
	dst = AppendStatusLine(dst, 1, status)
	dst = AppendHeader(dst, "Server", "pushwire")
	switch p {
	case PersistClose:
		dst = AppendHeader(dst, "Connection", "close")
	case Persist10:
		dst = AppendHeader(dst, "Connection", "keep-alive")
	}
	return dst
}

// AppendBody ends the head with Content-Length and appends body.
func AppendBody(dst []byte, ctype string, body []byte) []byte {
	if ctype != "" {
		dst = AppendHeader(dst, "Content-Type", ctype)
	}
	dst = AppendHeaderInt(dst, "Content-Length", int64(len(body)))
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// AppendJSONResponse appends a whole answer whose body is the JSON in body.
func AppendJSONResponse(dst []byte, status int, p Persist, body []byte) []byte {
	dst = AppendResponseHead(dst, status, p)
	return AppendBody(dst, "application/json", body)
}

// AppendErrorResponse appends status with {"error": reason}. reason is a
// constant phrase or built from settings, never from client bytes.
func AppendErrorResponse(dst []byte, status int, reason string, p Persist) []byte {
	var body [256]byte
	b := AppendErrorObject(body[:0], reason)
	return AppendJSONResponse(dst, status, p, b)
}

// AppendNotAllowed appends 405 with the Allow field RFC 9110 §15.5.6 requires
// (the methods the target does answer) and {"error": reason}.
func AppendNotAllowed(dst []byte, allow, reason string, p Persist) []byte {
	var body [256]byte
	b := AppendErrorObject(body[:0], reason)
	dst = AppendResponseHead(dst, 405, p)
	dst = AppendHeader(dst, "Allow", allow)
	return AppendBody(dst, "application/json", b)
}

// AppendErrorObject appends {"error": reason}.
func AppendErrorObject(dst []byte, reason string) []byte {
	dst = append(dst, `{"error":`...)
	dst = AppendJSONString(dst, []byte(reason))
	return append(dst, '}')
}
