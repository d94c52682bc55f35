package publish

import (
	"sync"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/route"
)

// routeLane runs one publisher connection's routing jobs one after another,
// in the order they were published (pipeline.go): the jobs that came while
// one was routed go together as one route.Route call, so their pushes to a
// node leave in one batch, in order, and a pipelined publisher pays one
// round trip per batch, not per request.
//
// Lock contract: mu guards pending and running; it is never held across
// routing. spare, items and run are the running worker's own.
type routeLane struct {
	mu      sync.Mutex
	pending []*RouteJob // jobs not started, in publish order
	running bool        // a router worker runs the lane

	spare []*RouteJob                 // pending's other buffer
	items []route.Item[*edge.Message] // the items of the jobs routed together
	run   func()                      // the worker's job, made once per lane
}

// idle reports whether no worker runs the lane.
func (lane *routeLane) idle() bool {
	lane.mu.Lock()
	defer lane.mu.Unlock()
	return !lane.running
}

// enqueue hands job to its connection's lane, starting a router worker for
// the lane if none runs it.
func (cn *Publisher) enqueue(lane *routeLane, job *RouteJob) {
	lane.mu.Lock()
	lane.pending = append(lane.pending, job)
	start := !lane.running
	lane.running = true
	lane.mu.Unlock()
	if !start {
		return
	}
	if lane.run == nil {
		lane.run = func() { cn.runLane(lane) }
	}
	if cn.Submit(lane.run) {
		return
	}
	// The router is saturated: answer 503 rather than block the loop. The
	// lane was idle, so job is the only one waiting.
	lane.mu.Lock()
	jobs := lane.pending
	lane.pending, lane.running = lane.pending[:0], false
	lane.mu.Unlock()
	for _, j := range jobs {
		cn.refuseRouted(j)
	}
	clear(jobs)
}

// runLane routes the lane's jobs until none is waiting. It runs on the router.
func (cn *Publisher) runLane(lane *routeLane) {
	for {
		lane.mu.Lock()
		jobs := lane.pending
		if len(jobs) == 0 {
			lane.running = false
			lane.mu.Unlock()
			return
		}
		lane.pending, lane.spare = lane.spare[:0], jobs
		lane.mu.Unlock()
		cn.routeTogether(lane, jobs)
		clear(jobs)
	}
}

// routeTogether routes jobs as one: one Route over all their items (so one
// batch per node), then each job's answer from its own items.
func (cn *Publisher) routeTogether(lane *routeLane, jobs []*RouteJob) {
	if len(jobs) == 1 {
		cn.run(jobs[0])
		return
	}
	items := lane.items[:0]
	for _, job := range jobs {
		items = append(items, job.items...)
	}
	cn.Forwards.Add(uint64(cn.Router.Route(items)))
	off := 0
	for _, job := range jobs {
		n := len(job.items)
		job.items = items[off : off+n : off+n]
		off += n
		cn.finish(job)
	}
	clear(items)
	if cap(items) > maxKeptItems {
		items = nil // a burst's run is not kept (pipekeep.go)
	}
	lane.items = items[:0]
}
