package server

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/store"
)

// replayHolds are the streams of a loop whose live QoS 1 messages wait: for
// the stored messages a new stream replays first (subscribe.go, holdLive), or
// for the re-sync after the directory lost this node (resync.go). Only the
// loop touches them.
type replayHolds struct {
	held        map[engine.Handle][]*message // streams awaiting their QoS 1 replay, and their live messages meanwhile
	again       map[engine.Handle]bool       // held streams to replay once more before releasing (resync.go)
	resyncing   []engine.Handle              // streams held for the directory's re-registration (resync.go)
	resyncMax   uint64                       // the newest id a re-sync replay wrote on this loop
	sentScratch []store.SentEntry            // a user's sent entries, read by a replay
}
