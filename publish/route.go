package publish

import (
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/route"
)

// A routeJob is a publish request (single or batch) whose pushes have been
// delivered locally and must still reach other nodes. The router finishes
// each push's result and sends the whole answer back to the publisher's loop.
type RouteJob struct {
	from      engine.Handle
	keepAlive httpcodec.Persist
	batch     bool
	results   []Result
	items     []route.Item[*edge.Message] // the pushes other nodes may have to take; Tag: their result
	keyed     *KeyedCall                  // its keys are recorded before the answer goes (idempotency.go)

	// A piped job (pipeline.go): its connection read on; the answer fills
	// slot seq of the connection's answer queue.
	piped bool
	seq   uint32
	reply []byte
}

// run routes job's pushes to the other nodes (route.Router), adds what
// they answered to each push's result, records the request's idempotency
// keys and answers the publisher. It runs on the router.
func (cn *Publisher) run(job *RouteJob) {
	cn.Forwards.Add(uint64(cn.Router.Route(job.items)))
	cn.finish(job)
}

// finish adds what the router made of job's items to its results, records
// its idempotency keys and answers the publisher.
func (cn *Publisher) finish(job *RouteJob) {
	for i := range job.items {
		it := &job.items[i]
		res := &job.results[it.Tag]
		switch {
		case it.StoreErr != nil:
			res.Status, res.Err = 503, "QoS 1 message not stored: "+it.StoreErr.Error()
		case it.Stored:
			res.Stored = true
		}
		res.Delivered += it.Delivered
		res.Nodes += it.Nodes
		res.Unreachable = append(res.Unreachable, it.Unreachable...)
		if it.Failure != "" {
			res.AddFailure(it.Failure)
		}
		FinishRouted(res, it.Kind)
	}
	if k := job.keyed; k != nil {
		cn.recordKeys(k.keys, k.claims, job.results)
	}
	cn.answerRouted(job)
}

// answerHeadBytes and answerLineBytes are about what an answer's head and
// one push's result take.
const answerHeadBytes, answerLineBytes = 128, 96

// answerRouted writes a routed job's answer on the publisher's loop.
func (s *Publisher) answerRouted(job *RouteJob) {
	s.countResults(job.results)
	// Sized ahead: grown from nil, an answer was copied at every doubling.
	var body []byte
	if job.batch {
		lines := make([]byte, 0, answerLineBytes*len(job.results))
		for i := range job.results {
			lines = AppendResult(lines, &job.results[i], true)
			lines = append(lines, '\n')
		}
		body = httpcodec.AppendBody(httpcodec.AppendResponseHead(make([]byte, 0, answerHeadBytes+len(lines)), 200, job.keepAlive), "application/x-ndjson", lines)
	} else {
		r := &job.results[0]
		obj := AppendResult(make([]byte, 0, answerLineBytes), r, false)
		body = httpcodec.AppendJSONResponse(make([]byte, 0, answerHeadBytes+len(obj)), r.Status, job.keepAlive, obj)
	}
	if job.piped {
		job.reply = body
		s.Eng.Submit(job.from.Loop(), engine.Task{H: job.from, Op: OpPipeReply, V: job})
		return
	}
	s.PubGlue.AsyncReply(job.from, job.keepAlive, body)
}

// refuseRouted answers 503 for every push of job other nodes had to take:
// the router is saturated, and the loop must not block.
func (s *Publisher) refuseRouted(job *RouteJob) {
	for i := range job.items {
		res := &job.results[job.items[i].Tag]
		res.Status, res.Err = 503, "cluster router saturated; retry"
		job.items[i].Msg.Release()
	}
	job.items = nil
	if k := job.keyed; k != nil {
		go s.recordKeys(k.keys, k.claims, nil) // free them; the router is full
	}
	s.answerRouted(job)
}

// countResults counts the lines of a batch, or a routed publish's answer.
func (s *Publisher) countResults(results []Result) {
	for i := range results {
		s.Metrics.CountStatus(results[i].Status)
	}
}
