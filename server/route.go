package server

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/route"
)

// A routeJob is a publish request (single or batch) whose pushes have been
// delivered locally and must still reach other nodes. The router finishes
// each push's result and sends the whole answer back to the publisher's loop.
type routeJob struct {
	from      engine.Handle
	keepAlive httpcodec.Persist
	batch     bool
	results   []publish.Result
	items     []route.Item[*message] // the pushes other nodes may have to take; Tag: their result
	keyed     *keyedCall             // its keys are recorded before the answer goes (idempotency.go)
}

// run routes job's pushes to the other nodes (route.Router), adds what
// they answered to each push's result, records the request's idempotency
// keys and answers the publisher. It runs on the router.
func (cn *clusterNode) run(job *routeJob) {
	cn.forwards.Add(uint64(cn.router.Route(job.items)))
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
		publish.FinishRouted(res, it.Kind)
	}
	if k := job.keyed; k != nil {
		cn.recordKeys(k.keys, k.claims, job.results)
	}
	cn.s.answerRouted(job)
}

// answerRouted writes a routed job's answer on the publisher's loop.
func (s *Server) answerRouted(job *routeJob) {
	s.countResults(job.results)
	var body []byte
	if job.batch {
		for i := range job.results {
			body = publish.AppendResult(body, &job.results[i], true)
			body = append(body, '\n')
		}
		body = httpcodec.AppendBody(httpcodec.AppendResponseHead(nil, 200, job.keepAlive), "application/x-ndjson", body)
	} else {
		r := &job.results[0]
		body = httpcodec.AppendJSONResponse(nil, r.Status, job.keepAlive, publish.AppendResult(nil, r, false))
	}
	call := &asyncCall{from: job.from, keepAlive: job.keepAlive, reply: body}
	s.eng.Submit(job.from.Loop(), engine.Task{H: job.from, Op: opAsyncReply, V: call})
}
