package userpolicy

import (
	"context"
	"time"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
)

// The per-user counts in Redis (pw:uc:<user>) after a re-sync. While this
// node's heartbeat had lapsed (it stalled past --node-ttl, Redis restarted
// empty, the janitor collected it), any admission of one of its users, on any
// node, dropped its keys as a dead node's, and the janitor may have removed
// them all; a stream admitted while Redis was unreachable was never entered.
// Its streams live on, uncounted: the user could hold more than
// --max-conns-per-user for as long as they did, and oldest-out never evicted
// them. So once the directory re-synced, every stream of a user on this node
// is entered again where it is missing (admit.UserConns.Reenter: nothing is
// refused or kicked for it; the user's next admission counts it). A stream
// entered again is dated at the node's last heartbeat before the gap
// (cluster.RedisDirectory.WholeUntil): the streams it lost its entry with
// began before that, and those admitted elsewhere in the gap after it, so
// oldest-out evicts in the right order. One that ends while its entry goes
// back may leave its key behind; the admission's check of the keys it would
// refuse for (staleKeys) drops it, and oldest-out evicts it first.

// reenterChunk is how many keys one router job enters again: one pipelined
// round trip.
const reenterChunk = 512

// ReenterUsers enters this node's user streams again in the per-user counts
// in Redis. It runs on the directory's goroutine after a re-sync, once the
// loops run (mesh/resync.go); the loops list their streams and the router
// writes them.
func (p *Policy) ReenterUsers() {
	if p.users == nil || p.c.Redis == nil {
		return
	}
	at := time.Now()
	if d, ok := p.c.Dir.(interface{ WholeUntil() time.Time }); ok {
		if t := d.WholeUntil(); !t.IsZero() {
			at = t
		}
	}
	for i := range p.loops {
		p.Eng.Submit(i, engine.Task{Op: edge.OpRun, V: func(l *engine.Loop) {
			keys := make([]admit.HeldKey, 0, reenterChunk)
			flush := func() {
				if len(keys) == 0 {
					return
				}
				batch := keys
				if !p.c.Submit(func() { p.reenter(batch) }) {
					p.Log.Warn("per-user policy: router saturated; streams not counted again after the re-sync", "streams", len(batch))
				}
				keys = make([]admit.HeldKey, 0, reenterChunk)
			}
			p.loops[l.Index()].eachUserStream(func(user, key string) {
				keys = append(keys, admit.HeldKey{User: user, Key: key, AtMs: at.UnixMilli()})
				if len(keys) == reenterChunk {
					flush()
				}
			})
			flush()
		}})
	}
}

// reenter writes keys on a router worker.
func (p *Policy) reenter(keys []admit.HeldKey) {
	ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
	defer cancel()
	if err := p.users.Reenter(ctx, keys); err != nil {
		p.Log.Warn("per-user policy: streams not counted again after the re-sync", "streams", len(keys), "err", err)
	}
}

// eachUserStream calls fn with the user and conn key of each stream of the
// loop the per-user policy counts (StreamLeft takes them out). It runs on
// the loop, or before the loops start.
func (ls *UserLoop) eachUserStream(fn func(user, key string)) {
	visit := func(sub conntable.Sub, st *edge.SubState) {
		if st.Mode != edge.ModeStream || !st.Subscribed || !st.HasUser {
			return
		}
		fn(string(ls.SubUser(st)), string(ls.p.AppendKeyText(nil, ls.KeyOf(sub))))
	}
	for _, page := range ls.Pages {
		for i := range page {
			if c := &page[i]; c.H != 0 {
				visit(conntable.ConnSub(conntable.Handle(c.H)), &c.SubState)
			}
		}
	}
	ls.EachStream(ls.Index, func(sub conntable.Sub, st *edge.StreamSub) { visit(sub, &st.SubState) })
}
