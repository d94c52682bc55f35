package cluster

import "context"

// Recheck has the directory run the re-sync callbacks (RedisOptions.BeforeResync and
// AfterResync) at its next tick: the server asks for it when it could not read what a
// stream must replay (its Redis read timed out), so that the replay is made again once
// Redis answers. Entries Redis still holds are not re-asserted: the heartbeat's SET XX GET
// says whether the node's registration is there, and a failed write has already marked
// the directory unsynced. Only then is the full re-sync (every entry re-added) run, hooks
// included. Before, every Recheck re-added every entry: at 95,000 streams on a loaded
// machine, 1,223 replay reads that timed out (and 4 failed writes) made 10 full re-syncs over
// 5 nodes, each two commands per held stream on a Redis that was already late (BENCHMARKS.md,
// cluster5).
func (d *RedisDirectory) Recheck() {
	d.replayDue.Store(true)
	d.wake()
}

// recheck serves a pending Recheck (run goroutine only): the heartbeat first, which runs
// the full re-sync, hooks included, when the registration was lost or a write failed;
// otherwise the hooks around a flush of the queued changes (so that every registration
// made before the hooks is in Redis when AfterResync reads). Anything that fails leaves
// the Recheck pending for the next tick.
func (d *RedisDirectory) recheck() {
	if !d.replayDue.Swap(false) {
		return
	}
	resyncs := d.resyncs.Load()
	err := d.beat(context.Background())
	d.mu.Lock()
	sync := d.needSync
	d.mu.Unlock()
	switch {
	case d.resyncs.Load() != resyncs:
		return // a full re-sync ran its hooks
	case err != nil || sync:
		d.replayDue.Store(true)
		return
	}
	if d.o.BeforeResync != nil {
		d.o.BeforeResync()
	}
	err = d.flush()
	if d.o.AfterResync != nil {
		d.o.AfterResync(err == nil)
	}
	if err != nil {
		d.replayDue.Store(true)
		return
	}
	d.rechecks.Add(1)
}
