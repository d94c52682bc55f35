package mesh

import (
	"context"
	"slices"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/publish"
)

// Re-sync is reconnect (issue 9). When the Redis directory re-registers this
// node after a gap — Redis restarted empty, writes failed, the node stalled
// past its TTL — a publisher on another node may have looked the node's users
// up in the gap, found nobody, stored its QoS 1 message and answered 202. Such
// a message was stored before that lookup, and the lookup came before the
// re-registration; so a read of the store made after the re-registration
// holds it. Around the re-registration, each live stream with a user is
// therefore treated as reconnecting:
//
//  1. before it (cluster.RedisOptions.BeforeResync), every loop starts holding
//     the live messages of its user streams (ls.held, as for a new stream);
//  2. after it succeeded (AfterResync(true)), the router reads each such user's
//     stored messages and each stream writes, in id order, those it was not
//     sent yet (store/sentlog.go), then the held live ones (writeReplay);
//  3. if it failed (AfterResync(false)), the held messages are written at once
//     (local delivery keeps working with Redis down) and the next attempt
//     holds again.
//
// Holding from before the registration keeps the order: nothing published
// after the registration is written before what was stored in the gap.

// resyncHoldWait bounds how long the directory's re-registration waits for
// the loops to start holding: a loop that did not answer in time still holds
// from its task on, and only order, not delivery, is at stake.
const resyncHoldWait = time.Second

// resyncChunk is how many streams one router job replays after a re-sync:
// the Pending reads run one after the other, and jobs run side by side.
const resyncChunk = 64

// beforeResync has every loop hold the live messages of its user streams and
// waits until they all do (or resyncHoldWait passes).
func (cn *clusterNode) beforeResync() {
	s := cn.s
	if !s.Running.Load() {
		return // no stream yet: nothing to hold
	}
	done := make(chan struct{}, len(s.loops))
	for i := range s.loops {
		s.Eng.Submit(i, engine.Task{Op: OpResyncHold, V: done})
	}
	timeout := time.NewTimer(resyncHoldWait)
	defer timeout.Stop()
	for range s.loops {
		select {
		case <-done:
		case <-timeout.C:
			s.Log.Warn("QoS 1 re-sync: a loop did not start holding in time; live messages may precede stored ones")
			return
		case <-s.Stopped:
			return
		}
	}
}

// afterResync has every loop replay what its held streams missed (ok), or
// write what they held (the registration failed).
func (cn *clusterNode) afterResync(ok bool) {
	s := cn.s
	if !s.Running.Load() {
		return
	}
	op := uint32(OpResyncFailed)
	if ok {
		op = OpResyncReplay
		s.Policy.ReenterUsers() // userpolicy/resync.go
	}
	s.Log.Info("QoS 1 re-sync: node registered again; replaying to the held streams what they missed", "registered", ok)
	for i := range s.loops {
		s.Eng.Submit(i, engine.Task{Op: op})
	}
}

// ResyncHold runs on a loop: every stream with a user starts holding its
// live messages; one whose own replay is in flight gets another after it,
// since that replay may have read the store before the re-registration.
func (ls *MeshLoop) ResyncHold(done chan struct{}) {
	defer func() { done <- struct{}{} }()
	// h is the subscriber's handle: a connection's, or an HTTP/2 stream's.
	hold := func(h engine.Handle, c *edge.SubState) {
		if !c.Subscribed || !c.HasUser || c.Mode != edge.ModeStream {
			return
		}
		if _, waiting := ls.Held[h]; waiting {
			if !slices.Contains(ls.Resyncing, h) {
				ls.Again[h] = true
			}
			return
		}
		ls.Held[h] = nil
		ls.Resyncing = append(ls.Resyncing, h)
	}
	for _, page := range ls.Pages {
		for i := range page {
			hold(page[i].H, &page[i].SubState)
		}
	}
	ls.EachStream(ls.Index, func(sub conntable.Sub, st *edge.StreamSub) { hold(engine.Handle(sub), &st.SubState) })
}

// ResyncReplay runs on a loop once the node is registered again: the router
// reads the stored messages of each held stream's user and hands them back
// (OpReplay, a re-sync batch).
func (ls *MeshLoop) ResyncReplay(l *engine.Loop) {
	items := make([]resyncItem, 0, min(len(ls.Resyncing), resyncChunk))
	flush := func() {
		if len(items) == 0 {
			return
		}
		batch := items
		if !ls.s.Cluster.submit(func() { ls.s.Cluster.replayResync(batch) }) {
			ls.s.Log.Warn("QoS 1 re-sync: router saturated; stored messages wait for the streams' reconnect", "streams", len(batch))
			for _, it := range batch {
				ls.releaseHeld(l, it.h)
			}
		}
		items = make([]resyncItem, 0, resyncChunk)
	}
	for _, h := range ls.Resyncing {
		c, _ := ls.SubscriberOf(conntable.Sub(h))
		if c == nil || c.Mode != edge.ModeStream || !c.HasUser {
			continue
		}
		items = append(items, resyncItem{h: h, user: string(ls.SubUser(c))})
		if len(items) == resyncChunk {
			flush()
		}
	}
	flush()
	ls.Resyncing = ls.Resyncing[:0]
}

// ResyncFailed runs on a loop when the re-registration failed: the held
// streams write what they held and go on live.
func (ls *MeshLoop) ResyncFailed(l *engine.Loop) {
	for _, h := range ls.Resyncing {
		ls.releaseHeld(l, h)
	}
	ls.Resyncing = ls.Resyncing[:0]
}

// releaseHeld writes what h held and stops holding.
func (ls *MeshLoop) releaseHeld(l *engine.Loop, h engine.Handle) {
	sub := conntable.Sub(h)
	if c, conn := ls.SubscriberOf(sub); c != nil && c.Mode == edge.ModeStream {
		for _, m := range ls.Held[h] {
			ls.MessageTo(l, sub, c, conn, m)
		}
	}
	ls.DropHeld(l, h)
}

type resyncItem struct {
	h    engine.Handle
	user string
}

// replayResync reads each item's stored messages, on the router, and hands
// them to the item's loop as a re-sync batch (written only where the stream
// was not sent them).
func (cn *clusterNode) replayResync(items []resyncItem) {
	for _, it := range items {
		cn.replayNow(it.h, it.user, nil, ReplayBatch{resync: true})
	}
}

// replayNow acknowledges acks (ids sent to the user's connections), reads
// user's stored messages and hands them to h's loop in b — always, an empty
// batch when Redis failed, since h holds its live messages until then.
func (cn *clusterNode) replayNow(h engine.Handle, user string, acks []uint64, b ReplayBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	if len(acks) > 0 {
		if removed, err := cn.s.Store.Box.AckIDs(ctx, nil, publish.ViewBytes(user), acks); err != nil {
			cn.s.Log.Warn("QoS 1 store: implicit ack failed", "user", user, "err", err)
		} else {
			slices.Sort(removed)
			cn.s.Sent.Forget(publish.ViewBytes(user), acks, removed, time.Now().UnixMilli())
		}
	}
	box := cn.s.Store.Box
	stored, lost, err := box.AppendPending(ctx, nil, publish.ViewBytes(user), time.Now().UnixMilli())
	for _, wait := range replayRetries {
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(wait) // on the router: the stream holds its live messages meanwhile
		stored, lost, err = box.AppendPending(ctx, nil, publish.ViewBytes(user), time.Now().UnixMilli())
	}
	if err != nil {
		cn.s.Log.Warn("QoS 1 store: no replay for a stream; re-syncing again", "user", user, "err", err)
		for _, m := range stored {
			m.Release()
		}
		stored = nil
		if rd, ok := cn.Dir.(interface{ Recheck() }); ok {
			rd.Recheck() // the next re-sync replays it once Redis answers
		}
	}
	batch := &b
	batch.msgs, batch.lost = stored, lost
	cn.s.Eng.Submit(h.Loop(), engine.Task{H: h, Op: OpReplay, V: batch})
}

// replayRetries are the waits between reads of a replay that failed: Redis
// that just came back may fail the first requests on its old connections.
var replayRetries = [...]time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond}

// directoryHooks are the re-sync callbacks the Redis directory calls.
func (cn *clusterNode) directoryHooks(o *cluster.RedisOptions) {
	o.BeforeResync = cn.beforeResync
	o.AfterResync = cn.afterResync
}

// An upgrade's adopted streams are reconnecting streams too (upgrade/handoff.go): while the
// handoff ran, both processes refused the pushes peers forwarded, so a QoS 1 push to an adopted
// stream's user was stored in Redis and answered "stored" by the node that took it, and only a
// read of the store made after this process takes pushes again finds it. Each adopted stream
// with a user therefore holds its live messages from its adoption on, and ReplayAdopted has
// the loops replay what the store holds once they run, as after a re-sync.

// HoldAdopted has adopted stream h hold its live messages until ReplayAdopted's replay; it runs
// before the loops start (on the loop's adopter goroutine, the only one touching the loop).
func (ls *MeshLoop) HoldAdopted(h engine.Handle) {
	if _, waiting := ls.Held[h]; !waiting {
		ls.Held[h] = nil
		ls.Resyncing = append(ls.Resyncing, h)
	}
}

// ReplayAdopted has every loop replay what its adopted streams held by HoldAdopted missed;
// called once the loops run and pushes from peers are taken again.
func (m *Mesh) ReplayAdopted() {
	for i := range m.loops {
		m.Eng.Submit(i, engine.Task{Op: OpResyncReplay})
	}
}
