package publish

import (
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// The Probe methods build and read a loop's publishing state for the glue's
// tests (server/dispatchpipe_test.go, pipekeep_test.go), which need a whole
// node and so cannot live in this package. They run on the loop, like
// everything of Publishing; nothing else calls them.

// ProbeInFlight puts a routed publish in flight on h (a slot of its answer
// queue not answered yet) and returns its sequence number.
func (ls *Publishing) ProbeInFlight(l *engine.Loop, h engine.Handle) uint32 {
	return ls.borrowPipe(l, h).push()
}

// ProbeDispatch dispatches an answer for h as serve's handler would.
func (ls *Publishing) ProbeDispatch(l *engine.Loop, h engine.Handle, keepAlive httpcodec.Persist, r Result) {
	ls.job = &RouteJob{}
	ls.dispatch(l, h, keepAlive, r)
}

// ProbeAnswered reports whether slot seq of h's answer queue is answered.
func (ls *Publishing) ProbeAnswered(h engine.Handle, seq uint32) bool {
	q := ls.PipeOf(h)
	return q != nil && q.slots[seq%maxInFlight].ready
}

// ProbeAnswer answers slot seq of h's queue with reply, as the router would.
func (ls *Publishing) ProbeAnswer(l *engine.Loop, h engine.Handle, seq uint32, reply []byte) {
	ls.PipeAnswered(l, &RouteJob{from: h, seq: seq, reply: reply})
}

// ProbeSpares reports the loop's spare answer queues, the largest answer
// buffer their slots keep and the largest items slice their lanes keep
// (waiting for each lane's worker to stop), with the bounds they must keep
// to (pipekeep.go).
func (ls *Publishing) ProbeSpares() (spares, reply, items, maxReply, maxItems int) {
	for _, q := range ls.sparePipes {
		spares++
		for k := range q.slots {
			reply = max(reply, cap(q.slots[k].reply))
		}
		if q.lane == nil {
			continue // left to a closed connection's jobs: borrowPipe makes a new one
		}
		for !q.lane.idle() { // its worker has answered and is about to stop
			time.Sleep(time.Millisecond)
		}
		items = max(items, cap(q.lane.items))
	}
	return spares, reply, items, maxKeptReply, maxKeptItems
}
