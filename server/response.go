package server

import (
	"github.com/pushwire/pushwire/httpcodec"
)

// Responses are built into the loop's ls.out and written with a copy; all of
// these append to dst and allocate nothing.

// persist is whether an answer keeps its connection, and how it must say so.
type persist uint8

const (
	persistClose persist = iota // "Connection: close", then close
	persist11                   // HTTP/1.1 keep-alive: nothing to say
	persist10                   // HTTP/1.0 keep-alive: "Connection: keep-alive" (RFC 9112 §9.3)
)

// persistence is how the answer to req treats its connection.
func persistence(req *httpcodec.Request) persist {
	switch {
	case !req.KeepAlive():
		return persistClose
	case req.Minor() == 0:
		return persist10
	}
	return persist11
}

func (p persist) keep() bool { return p != persistClose }

// appendResponseHead appends the status line and the headers every answer
// carries; the caller adds its own and ends the head with appendBody.
func appendResponseHead(dst []byte, status int, p persist) []byte {
	dst = httpcodec.AppendStatusLine(dst, 1, status)
	dst = httpcodec.AppendHeader(dst, "Server", "pushwire")
	switch p {
	case persistClose:
		dst = httpcodec.AppendHeader(dst, "Connection", "close")
	case persist10:
		dst = httpcodec.AppendHeader(dst, "Connection", "keep-alive")
	}
	return dst
}

// appendBody ends the head with Content-Length and appends body.
func appendBody(dst []byte, ctype string, body []byte) []byte {
	if ctype != "" {
		dst = httpcodec.AppendHeader(dst, "Content-Type", ctype)
	}
	dst = httpcodec.AppendHeaderInt(dst, "Content-Length", int64(len(body)))
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// appendJSONResponse appends a whole answer whose body is the JSON in body.
func appendJSONResponse(dst []byte, status int, p persist, body []byte) []byte {
	dst = appendResponseHead(dst, status, p)
	return appendBody(dst, "application/json", body)
}

// appendErrorResponse appends status with {"error": reason}. reason is a
// constant phrase or built from settings, never from client bytes.
func appendErrorResponse(dst []byte, status int, reason string, p persist) []byte {
	var body [256]byte
	b := appendErrorObject(body[:0], reason)
	return appendJSONResponse(dst, status, p, b)
}

// appendNotAllowed appends 405 with the Allow field RFC 9110 §15.5.6 requires
// (the methods the target does answer) and {"error": reason}.
func appendNotAllowed(dst []byte, allow, reason string, p persist) []byte {
	var body [256]byte
	b := appendErrorObject(body[:0], reason)
	dst = appendResponseHead(dst, 405, p)
	dst = httpcodec.AppendHeader(dst, "Allow", allow)
	return appendBody(dst, "application/json", b)
}

func appendErrorObject(dst []byte, reason string) []byte {
	dst = append(dst, `{"error":`...)
	dst = httpcodec.AppendJSONString(dst, []byte(reason))
	return append(dst, '}')
}
