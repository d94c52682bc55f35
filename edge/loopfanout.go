package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// loopFanOut is a loop's delivery scratch: the subscribers a push reaches
// (route.Resolver), the deliveries gathered per destination loop, which wait
// until flushFanOut (deliver.go) so a batch publish hands each other loop
// one batch, its route.Fanout, and the messages of a long-poll answer being
// merged (subscribe/poll.go). Only the loop touches it.
type loopFanOut struct {
	Targets []conntable.Sub
	batches LoopBatches
	Fan     LoopFan
	Pending []*Message  // poll answers being merged
	one     [1]*Message // a single message passed as a list
}

// LoopFan is the route.Fanout of the loop serving a publish (fanOut,
// fanOutAll); publish sets it for the loop l it runs on.
type LoopFan struct {
	ls *Loop
	l  *engine.Loop
}

func (f *LoopFan) Deliver(m *Message, targets []conntable.Sub) int {
	return f.ls.fanOut(f.l, m, targets)
}

// FanOn returns the loop's route.Fanout for a publish served on l.
func (ls *Loop) FanOn(l *engine.Loop) *LoopFan {
	ls.Fan = LoopFan{ls, l}
	return &ls.Fan
}

func (f *LoopFan) DeliverAll(m *Message) int { return f.ls.fanOutAll(f.l, m) }

// LoopBatches gathers deliveries per destination loop, so that handing a
// fan-out over takes each loop's queue lock once. The loops keep one each
// for the requests they serve (loopFanOut.batches); a push from a peer takes
// one from mesh/take.go's scratchPool.
type LoopBatches [][]engine.Task

// Submit hands every gathered batch to its loop and empties them, keeping
// their capacity.
func (b LoopBatches) Submit(eng *engine.Engine) {
	for i, batch := range b {
		if len(batch) == 0 {
			continue
		}
		eng.SubmitBatch(i, batch)
		clear(batch)
		b[i] = batch[:0]
	}
}
