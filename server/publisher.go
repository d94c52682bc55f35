package server

import (
	"sync/atomic"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
)

// Publisher is the node's publishing side (SPEC §4): message ids, the
// resolver that fans a push out to this node's subscribers, the router that
// takes it to the others, the idempotency keys and the publish figures. Set
// up before the loops start; then read-only but for the atomics.
type Publisher struct {
	*edge.Node
	ids      push.IDs                       // message ids
	resolver *route.Resolver[*edge.Message] // this node's subscribers of a push (route/resolve.go)
	router   *route.Router[*edge.Message]   // the other nodes: set when the cluster starts
	idem     cluster.Idempotency            // Idempotency-Key claims and answers (idempotency.go)
	metrics  *admin.Metrics                 // histograms and counters of /metrics (admin/metrics.go)

	messagesIn atomic.Uint64
	duplicates atomic.Uint64 // publishes answered "duplicate": their idempotency key was seen
	forwards   atomic.Uint64 // pushes forwarded to other nodes

	pubGlue PubGlue
}

// PubGlue is what publishing asks of the node above it, filled in at
// assembly.
type PubGlue struct {
	// alone reports a standalone node: nothing to route, no key to claim elsewhere.
	alone func() bool
	// keep stores a QoS 1 user message in its mailbox; routeStore when the
	// routing job stores it (Redis) before it forwards.
	keep func(user []byte, m *edge.Message, nowMs int64) (stored, routeStore bool, err error)
	// asyncReply writes a whole answer to from, a connection held for it, on its loop.
	asyncReply func(from engine.Handle, keepAlive httpcodec.Persist, answer []byte)
}

// Publishing is the publishing state of one loop: the request being
// published and the answer queues of connections with routed requests in
// flight. Only the loop touches it.
type Publishing struct {
	*edge.Loop
	s *Publisher

	publishState // the publishing request's route job and results (loopjob.go)
	loopPipes    // answer queues of api connections with routed requests in flight (pipeline.go)
}

// submit hands work to the router without ever blocking a loop; false
// when the router is saturated. Its goroutines start with the jobs: a
// standalone node never has one.
func (p *Publisher) submit(job func()) bool {
	return p.router.Submit(job)
}
