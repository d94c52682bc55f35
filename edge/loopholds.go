package edge

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/store"
)

// replayHolds are the streams of a loop whose live QoS 1 messages wait: for
// the stored messages a new stream replays first (subscribe/subscribe.go, holdLive), or
// for the re-sync after the directory lost this node (mesh/resync.go). Only the
// loop touches them.
type replayHolds struct {
	Held        map[engine.Handle][]*Message // streams awaiting their QoS 1 replay, and their live messages meanwhile
	Again       map[engine.Handle]bool       // held streams to replay once more before releasing (mesh/resync.go)
	Resyncing   []engine.Handle              // streams held for the directory's re-registration (mesh/resync.go)
	ResyncMax   uint64                       // the newest id a re-sync replay wrote on this loop
	SentScratch []store.SentEntry            // a user's sent entries, read by a replay
}

// holdLive keeps a live message for a stream whose stored messages are still
// being fetched, so that it is written after them (SPEC §5: unacknowledged
// messages are resent in order); false when h is not waiting for a replay.
// Only streams in that short window have an entry in ls.held (nil until a
// message comes), so this costs the others one len check.
func (ls *Loop) holdLive(m *Message, h engine.Handle) bool {
	held, waiting := ls.Held[h]
	if !waiting {
		return false
	}
	m.RetainN(1)
	ls.Held[h] = append(held, m)
	return true
}

// DropHeld releases what h held (after its loop's flush: writes refer to them).
func (ls *Loop) DropHeld(l *engine.Loop, h engine.Handle) {
	held, ok := ls.Held[h]
	if !ok {
		return
	}
	for _, m := range held {
		l.Defer(m)
	}
	delete(ls.Held, h)
	delete(ls.Again, h)
}
