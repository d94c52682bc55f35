// Package push is what a subscriber receives, in each stream format of SPEC §3:
// SSE events (sse.go), multipart/mixed parts (multipart.go) and NDJSON records
// (ndjson.go). Every encoder appends to a caller's buffer and allocates nothing.
// It sits below the glue: streams, drain, heartbeats and long-poll answers all
// write their frames with it, and it imports nothing of the project but
// httpcodec's header encoder.
package push
