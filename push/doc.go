// Package push is what a push is on the wire, below the glue: the message
// every frame is encoded from (message.go) and its id (id.go: unique in a
// cluster, ordered by publish time); its address (address.go: the
// kinds conn, user, topic and all, their text form and the name rules) and a
// conn key's text (connkey.go); its JSON payload (json.go: when a body is
// embedded as JSON, compacted once); the stream formats (format.go: ?format=
// and Accept, each format's Content-Type); and every frame a subscriber
// receives (frames.go: messages, resends, registered, heartbeat and
// reconnect frames) written with each format's encoder: SSE events (sse.go),
// multipart/mixed parts (multipart.go), NDJSON records (ndjson.go). Every
// encoder appends to a caller's buffer and allocates nothing. Streams, drain,
// heartbeats and long-poll answers all write their frames with it; it imports
// nothing of the project but httpcodec's header and JSON string encoders.
package push
