package server

import "github.com/pushwire/pushwire/conntable"

// fanScratch is the scratch of one fan-out: the connections a push reaches
// (resolve.go) and the deliveries gathered per destination loop, so handing
// them over takes each loop's queue lock once. A loop keeps one (loopFanOut);
// a push taken from a peer borrows one from scratchPool (take.go).
type fanScratch struct {
	targets []conntable.Sub
	batches loopBatches
}

// loopFanOut is a loop's delivery scratch: its fan-out, whose batches wait
// until flushFanOut (deliver.go) so a batch publish hands each other loop
// one batch, and the messages of a long-poll answer being merged (poll.go).
// Only the loop touches it.
type loopFanOut struct {
	fanScratch
	pending []*message  // poll answers being merged
	one     [1]*message // a single message passed as a list
}
