package publish

import (
	"testing"

	"github.com/pushwire/pushwire/engine"
)

// TestAnsweredQueueKeepsItsLane: an answer queue given back at n == 0 (every
// routed answer in and written) while its lane's worker has not looped back
// yet (it answered the last job and is about to find nothing pending) is
// borrowed again with the same lane: steady routed publishing makes no lane
// per request. Before, borrowPipe saw that lane still running and made a new
// routeLane for the next publish (and enqueue a new closure for it): two
// allocations per routed publish whenever a queue came back between a
// worker's last answer and its last look at the lane, which a loop serving
// many publishers hits all the time (a queue freed by one connection is taken
// by the next request read).
//
// A queue given back with requests still in flight (its connection closed)
// gets a new lane instead: its jobs may still wait in the old one.
func TestAnsweredQueueKeepsItsLane(t *testing.T) {
	var lp loopPipes
	const h = engine.Handle(7)
	// routed borrows h's queue, puts a routed publish in flight on it as
	// dispatchPiped does, with the lane's worker running it, and answers it
	// as PipeAnswered does; the worker has not looped back.
	routed := func() *routeLane {
		q := lp.borrowPipe(nil, h)
		lane := q.lane
		seq := q.push()
		lane.mu.Lock()
		lane.running = true
		lane.mu.Unlock()
		sl := &q.slots[seq%maxInFlight]
		sl.reply, sl.ready = sl.reply[:0], true
		sl.reply, sl.ready = keptReply(sl.reply), false // written (writeAnswered)
		q.base++
		q.n--
		lp.returnPipe(q)
		return lane
	}
	first := routed()
	if allocs := testing.AllocsPerRun(100, func() { routed() }); allocs != 0 {
		t.Errorf("a routed publish on a queue given back answered, its worker not looped back: %.0f allocations; want 0", allocs)
	}
	if got := routed(); got != first {
		t.Error("the queue was borrowed again with a new lane; want the lane it had (its worker has no job left)")
	}

	// Closed with a job in flight: that job may still wait in the lane.
	q := lp.borrowPipe(nil, h)
	q.push()
	q.lane.mu.Lock()
	q.lane.pending = append(q.lane.pending, &RouteJob{})
	q.lane.running = true
	q.lane.mu.Unlock()
	lp.returnPipe(q) // DropPipe: h closed
	if q2 := lp.borrowPipe(nil, h+1); q2 != q || q2.lane == first {
		t.Errorf("a queue given back with a job in flight: borrowed again as %p with lane %p; want queue %p with a new lane (not %p)", q2, q2.lane, q, first)
	}
}
