package route

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// Fanout delivers a message to subscribers of this node; the edge
// implements it. The loop serving a publish delivers to its own subscribers
// at once and hands the rest to their loops; a push taken from a peer, on
// the link's goroutine, hands every delivery to its loop.
type Fanout[M any] interface {
	// Deliver hands m to each of targets and returns how many.
	Deliver(m M, targets []conntable.Sub) int
	// DeliverAll hands m to every subscriber of this node and returns how
	// many there were.
	DeliverAll(m M) int
}

// ResolverOptions configures a Resolver.
type ResolverOptions[M Message] struct {
	Table  *conntable.Table // user and topic members
	Recent *store.Recent[M] // user long-poll buffers and topic history
	// Lookup returns the live subscriber a conn key names on this node; any
	// goroutine may call it.
	Lookup func(k push.ConnKey) (conntable.Sub, bool)
}

// Resolver finds the subscribers of this node a push reaches and fans it
// out to them: the one path of local publishes (Fan) and of pushes taken from
// peers (Router.Take). Safe for concurrent use.
type Resolver[M Message] struct {
	o ResolverOptions[M]
}

// NewResolver makes a resolver.
func NewResolver[M Message](o ResolverOptions[M]) *Resolver[M] {
	return &Resolver[M]{o: o}
}

// Targets appends the subscribers of this node that a push to kind:name
// reaches, and keeps m where the push outlives its delivery on this node:
// the user's long-poll buffer, the topic's history. "all" has no list (Fan
// walks the loops). key is the conn key of a conn push, already known to be
// this node's. kept reports whether m was kept for a user's or topic's later
// readers.
func (r *Resolver[M]) Targets(dst []conntable.Sub, kind push.Kind, name []byte, key push.ConnKey, m M) (_ []conntable.Sub, kept bool) {
	switch kind {
	case push.Conn:
		if sub, ok := r.o.Lookup(key); ok {
			dst = append(dst, sub)
		}
	case push.User:
		kept = r.o.Recent.Record(conntable.Users, name, m)
		dst = r.o.Table.AppendMembers(dst, conntable.Users, name)
	case push.Topic:
		kept = r.o.Recent.Record(conntable.Topics, name, m)
		dst = r.o.Table.AppendMembers(dst, conntable.Topics, name)
	}
	return dst, kept
}

// Fan resolves a push to kind:name on this node (Targets, appended to dst)
// and delivers m through f. It returns the targets, how many subscribers m
// was handed to and whether m was kept for later readers.
func (r *Resolver[M]) Fan(f Fanout[M], dst []conntable.Sub, kind push.Kind, name []byte, key push.ConnKey, m M) (targets []conntable.Sub, delivered int, kept bool) {
	if kind == push.All {
		return dst, f.DeliverAll(m), false
	}
	targets, kept = r.Targets(dst, kind, name, key, m)
	return targets, f.Deliver(m, targets), kept
}
