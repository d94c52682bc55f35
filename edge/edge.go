// Package edge is what a request handler outside the glue may ask of the
// event loop that read its request: the loop's writes and the request's
// answer, by handle. The glue (server/) owns the loops, the connections and
// their state; it implements Answers once per loop (server/loopanswers.go)
// and hands it to the handlers of other packages (admin/ops.go), so they
// never see a connection's state, a loop's fields or another handler.
//
// It is a per-request interface, never stored per connection: a delivery
// (a frame to a subscriber) stays on the glue's concrete types.
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
