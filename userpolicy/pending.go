package userpolicy

import (
	"sync/atomic"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
)

// pendingKey is a stream key admitted by the per-user policy whose stream is
// not registered on its loop yet (Policy.pending). Another admission
// may evict it in that window, when LookupKey cannot find it: whichever of
// the kicker and the starter comes second does the kick, decided by one
// compare-and-swap, so it is neither lost nor done twice.
type pendingKey struct {
	state atomic.Uint32 // pendingWaiting, pendingKicked or pendingStarted
}

const (
	pendingWaiting = iota // admitted, not started
	pendingKicked         // evicted before its start: the starter kicks it
	pendingStarted        // started: LookupKey finds it, the kicker kicks it
)

// KickPending leaves the kick of key to its loop when key's stream waits
// for its start (userAdmitted); false when LookupKey must find it. Any
// goroutine may call it.
func (p *Policy) KickPending(key string) bool {
	v, ok := p.pending.Load(key)
	return ok && v.(*pendingKey).state.CompareAndSwap(pendingWaiting, pendingKicked)
}

// startedPending marks call's key started, and kicks the stream just
// started when an eviction came first. It runs on the stream's loop.
func (ls *UserLoop) startedPending(l *engine.Loop, call *userCall) {
	if call.pk.state.CompareAndSwap(pendingWaiting, pendingStarted) {
		return
	}
	sub := call.sub.Stream
	if sub == 0 {
		sub = conntable.ConnSub(conntable.Handle(call.from))
	}
	if s, conn := ls.SubscriberOf(sub); s != nil && s.Subscribed && s.Mode == edge.ModeStream {
		ls.p.UserEvicted.Add(1)
		ls.Kick(l, sub, s, conn)
	}
}
