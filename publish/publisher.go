package publish

import (
	"sync/atomic"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/admit"
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
	IDs      push.IDs                       // message ids
	Resolver *route.Resolver[*edge.Message] // this node's subscribers of a push (route/resolve.go)
	Router   *route.Router[*edge.Message]   // the other nodes: set when the cluster starts
	Idem     admit.Idempotency              // Idempotency-Key claims and answers (idempotency.go)
	Metrics  *admin.Metrics                 // histograms and counters of /metrics (admin/metrics.go)

	MessagesIn atomic.Uint64
	Duplicates atomic.Uint64 // publishes answered "duplicate": their idempotency key was seen
	Forwards   atomic.Uint64 // pushes forwarded to other nodes

	PubGlue PubGlue
}

// PubGlue is what publishing asks of the node above it, filled in at
// assembly.
type PubGlue struct {
	// Alone reports a standalone node: nothing to route, no key to claim elsewhere.
	Alone func() bool
	// Keep stores a QoS 1 user message in its mailbox; routeStore when the
	// routing job stores it (Redis) before it forwards.
	Keep func(user []byte, m *edge.Message, nowMs int64) (stored, routeStore bool, err error)
	// AsyncReply writes a whole answer to from, a connection held for it, on its loop.
	AsyncReply func(from engine.Handle, keepAlive httpcodec.Persist, answer []byte)
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

// Publishing's task ops (engine.Task.Op), run through edge.Glue.Tasks;
// the node's own start at NextOp.
const (
	OpKeyedPublish = edge.FirstGlueOp + iota // V *keyedCall: its keys are claimed; publish it for H
	OpPipeReply                              // V *routeJob: a piped routed publish's answer for H (pipeline.go)
	NextOp
)

// NewPublishing is loop l's publishing state, of node p.
func NewPublishing(l *edge.Loop, p *Publisher) *Publishing {
	return &Publishing{Loop: l, s: p}
}

// Submit hands work to the router without ever blocking a loop; false
// when the router is saturated. Its goroutines start with the jobs: a
// standalone node never has one.
func (p *Publisher) Submit(job func()) bool {
	return p.Router.Submit(job)
}

// Init makes p the publishing side of node n.
func (p *Publisher) Init(n *edge.Node) { p.Node = n }
