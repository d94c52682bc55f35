// package edge is the event loops' core: per loop (Loop) the connection
// pages and their parsers, the subscriber records (a connection's own, and
// HTTP/2 streams'), the timing wheel and the slot sweep, the request
// scratch, the fan-out batches and the QoS 1 replay holds; writing a frame
// to a subscriber, deliver and deliverAll, drain, the connection limits, and
// the engine.Handler (Node) that reads requests and runs task ops.
//
// What a request or a task op means is the handlers' (server/ and the
// packages it assembles): they fill one Glue table per node at assembly,
// which the core calls through; a delivery to an HTTP/1.x subscriber calls
// none of it. Answers (this file) is what a handler that never sees a Loop
// (admin/ops.go) may ask of the loop that read its request.
package edge

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// Answers is the loop's side of one request, called on that loop.
type Answers interface {
	// Answer writes answer, a whole HTTP response, to h now; a HEAD
	// request gets its head only.
	Answer(h engine.Handle, req *httpcodec.Request, answer []byte)
	// Later holds h until reply is called: its later pipelined requests
	// wait unread, in order. reply, callable once from any goroutine, takes
	// a whole HTTP response that says p (how the connection persists).
	Later(h engine.Handle, req *httpcodec.Request) (p httpcodec.Persist, reply func(answer []byte))
	// Scratch is the loop's reusable buffers for the answer being built
	// and its body, valid while the request is served; the next reuses
	// them, so answering allocates nothing.
	Scratch() (out, body *[]byte)
}
