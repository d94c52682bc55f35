package server

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// localTargets appends the subscribers of this node that a push to
// kind:name reaches, and keeps m where the push outlives its delivery on this
// node: the user's long-poll buffer, the topic's history (store/recent.go). It is
// the one resolution used by local publishes (publish.go) and by pushes taken
// from peers (take.go); "all" has no list and is fanned out by walking the
// loops. A conn key must already be known to be this node's. kept reports
// whether m was kept for a user's or topic's later readers. Any goroutine may
// call it.
func (s *Server) localTargets(targets []conntable.Sub, kind push.Kind, name []byte, key connKey, m *message) (_ []conntable.Sub, kept bool) {
	switch kind {
	case push.Conn:
		if h, ok := s.lookupKey(key); ok {
			targets = append(targets, h)
		}
	case push.User:
		kept = s.recent.Record(conntable.Users, name, m)
		targets = s.table.AppendMembers(targets, conntable.Users, name)
	case push.Topic:
		kept = s.recent.Record(conntable.Topics, name, m)
		targets = s.table.AppendMembers(targets, conntable.Topics, name)
	}
	return targets, kept
}

// loopBatches gathers deliveries per destination loop, so that handing a
// fan-out over takes each loop's queue lock once. The loops keep one each
// for the requests they serve (loopState.batches); a push from a peer takes
// one from fanScratch's pool.
type loopBatches [][]engine.Task

// submit hands every gathered batch to its loop and empties them, keeping
// their capacity.
func (b loopBatches) submit(eng *engine.Engine) {
	for i, batch := range b {
		if len(batch) == 0 {
			continue
		}
		eng.SubmitBatch(i, batch)
		clear(batch)
		b[i] = batch[:0]
	}
}
