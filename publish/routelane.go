package publish

import (
	"sync"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/route"
)

// routeLane runs one publisher connection's routing jobs one after another,
// in the order they were published (pipeline.go): the jobs that came while
// one was routed go together in route.Route calls of up to maxRouteItems
// pushes, so their pushes to a node leave in one batch, in order, and a
// pipelined publisher pays one round trip per batch, not per request.
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

// maxRouteItems and maxRouteBytes bound the jobs routed together in one
// route.Route call: at most that many pushes, or payload bytes, unless one
// job alone is bigger (it goes alone, as it would have unpiped). A call's
// pushes share one lookup and one forward deadline (QoS 1 stores run one
// after another under the latter), and its pushes to a node go in one link
// call, which an empty link queue admits however big: 63 batches of 1,000
// QoS 1 lines that waited behind a slow job, routed as one, stored some
// 13,000 in their 2 s and answered the rest 503
// (TestPipelinedQoS1BatchesRoutedApart). Runs of this size keep the point of
// routing together (one batch per node, one round trip for many small
// publishes) and each run its own deadlines.
const (
	maxRouteItems = 1024
	maxRouteBytes = 1 << 20
)

// routeTogether routes jobs in runs of whole jobs within maxRouteItems and
// maxRouteBytes: one Route over each run's items (so one batch per node),
// then each job's answer from its own items.
func (cn *Publisher) routeTogether(lane *routeLane, jobs []*RouteJob) {
	for len(jobs) > 0 {
		n, items, size := 1, len(jobs[0].items), jobBytes(jobs[0])
		for ; n < len(jobs); n++ {
			more := jobBytes(jobs[n])
			if items+len(jobs[n].items) > maxRouteItems || size+more > maxRouteBytes {
				break
			}
			items, size = items+len(jobs[n].items), size+more
		}
		cn.routeRun(lane, jobs[:n])
		jobs = jobs[n:]
	}
}

// jobBytes is the payload bytes of job's pushes.
func jobBytes(job *RouteJob) int {
	n := 0
	for i := range job.items {
		n += len(job.items[i].Msg.Push().Data)
	}
	return n
}

// routeRun routes a run of jobs as one.
func (cn *Publisher) routeRun(lane *routeLane, jobs []*RouteJob) {
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
