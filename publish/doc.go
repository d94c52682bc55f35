// package publish is the publish API (SPEC §4): what a POST /pub carries
// (Request: address, event, QoS, TTL, body), how its path and headers are
// read, idempotency keys and how a batch carries them, and the JSON answer
// of one push (Result), partial delivery included (request.go, result.go,
// partial.go, idemkey.go); and its handlers on the loops: Publisher, the
// node's publishing side, and Publishing, a loop's (publisher.go), which
// publish a single push or a batch (publish.go, batch.go), claim and record
// Idempotency-Keys (idempotency.go), hand what other nodes must take to the
// router as a routing job (route.go, routelane.go) and write a keep-alive
// publisher's answers in request order (pipeline.go). They deliver through
// the edge's Loop; what they ask of the node above (is it alone, store a
// QoS 1 message, answer a held connection) is PubGlue, filled at assembly
// (server/loopglue.go).
package publish
