package server

import (
	"github.com/pushwire/pushwire/httpcodec"
)

// Responses are built into the loop's ls.out and written with a copy; all of
// these append to dst and allocate nothing.

// appendResponseHead appends the status line and the headers every answer
// carries; the caller adds its own and ends the head with appendBody.
func appendResponseHead(dst []byte, status int, keepAlive bool) []byte {
	dst = httpcodec.AppendStatusLine(dst, 1, status)
	dst = httpcodec.AppendHeader(dst, "Server", "pushwire")
	if !keepAlive {
		dst = httpcodec.AppendHeader(dst, "Connection", "close")
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
func appendJSONResponse(dst []byte, status int, keepAlive bool, body []byte) []byte {
	dst = appendResponseHead(dst, status, keepAlive)
	return appendBody(dst, "application/json", body)
}

// appendErrorResponse appends status with {"error": reason}. reason is a
// constant phrase or built from settings, never from client bytes.
func appendErrorResponse(dst []byte, status int, reason string, keepAlive bool) []byte {
	var body [256]byte
	b := appendErrorObject(body[:0], reason)
	return appendJSONResponse(dst, status, keepAlive, b)
}

func appendErrorObject(dst []byte, reason string) []byte {
	dst = append(dst, `{"error":`...)
	dst = httpcodec.AppendJSONString(dst, []byte(reason))
	return append(dst, '}')
}

// appendEmptyResponse appends an answer with no body (204, 200 to a preflight).
func appendEmptyResponse(dst []byte, status int, keepAlive bool) []byte {
	dst = appendResponseHead(dst, status, keepAlive)
	if status != 204 { // RFC 9110 §8.6: a 204 carries no Content-Length
		dst = httpcodec.AppendHeader(dst, "Content-Length", "0")
	}
	return append(dst, "\r\n"...)
}
