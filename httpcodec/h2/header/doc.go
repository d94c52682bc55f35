// Package header is the HTTP/2 codec's header fields, both ways: a request's
// header block decoded into views and checked as the fields come (Block,
// Request: RFC 9113 §8.2-8.3), and a response's block encoded without
// indexing, so that our side keeps no HPACK state (AppendStatus,
// AppendField: RFC 7541 §6.2.2).
//
// The framing of a block (HEADERS, CONTINUATION, their limits), the HPACK
// decoder's lifetime and what a finished block means for its stream are the
// connection's, in package h2; this package sees one field at a time and
// knows nothing of frames or streams. Only h2 imports it (h2.Request is its
// Request).
package header
