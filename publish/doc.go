// Package publish is the publish API's request and answer (SPEC §4): what a
// POST /pub carries (Request: address, event, QoS, TTL, body), how its path
// and headers are read, idempotency keys and how a batch carries them, and
// the JSON answer of one push (Result), partial delivery included. It never
// sees a connection or a loop: the glue reads the request on its loop,
// publishes, and writes what AppendResult makes (server/publish.go,
// server/batch.go, server/idempotency.go).
package publish
