// Package push is what a push is on the wire, below the glue: its address
// (address.go: the kinds conn, user, topic and all, their text form and the
// name rules), its JSON payload (json.go: when a body is embedded as JSON,
// compacted once), its stream formats (format.go: ?format= and Accept, each
// format's Content-Type), and what a subscriber receives in each format of SPEC
// §3: SSE events (sse.go), multipart/mixed parts (multipart.go) and NDJSON
// records (ndjson.go). Every encoder appends to a caller's buffer and
// allocates nothing. Streams, drain, heartbeats and long-poll answers all
// write their frames with it; it imports nothing of the project but
// httpcodec's header encoder.
package push
