// Package httpcodec is pushwire's HTTP/1.x wire codec: a resumable, strict
// request parser that works on the caller's read buffer without copying, and
// response encoders that append to a caller's buffer. Nothing in the package
// allocates per request or per frame.
//
// The parser follows RFC 9112 strictly and answers every framing ambiguity
// that could smuggle a request past another parser (Content-Length with
// Transfer-Encoding, repeated Content-Length, codings other than a final
// chunked, obs-fold, bare CR or LF) with an *Error carrying the status to
// send, never with a guess.
package httpcodec

//go:generate go run tables_gen.go
