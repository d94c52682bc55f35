package route

import (
	"strconv"
	"sync"
	"unsafe"

	"github.com/pushwire/pushwire/cluster"
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
type ResolverOptions[M store.Message] struct {
	Self   string           // this node's id: the node suffix of the conn keys it holds
	Table  *conntable.Table // user and topic members
	Recent *store.Recent[M] // user long-poll buffers and topic history
	// Lookup returns the live subscriber a conn key names on this node; any
	// goroutine may call it.
	Lookup func(k push.ConnKey) (conntable.Sub, bool)
	// FromPeer builds the message of a push taken from a peer (Take), its id
	// already parsed; Take releases it once delivered.
	FromPeer func(seq uint64, p *cluster.Push) M
}

// Resolver finds the subscribers of this node a push reaches and fans it
// out to them: the one path of local publishes (Fan) and of pushes taken from
// peers (Take). Safe for concurrent use.
type Resolver[M store.Message] struct {
	o       ResolverOptions[M]
	targets sync.Pool // *[]conntable.Sub, Take's scratch
}

// NewResolver makes a resolver.
func NewResolver[M store.Message](o ResolverOptions[M]) *Resolver[M] {
	r := &Resolver[M]{o: o}
	r.targets.New = func() any { return new([]conntable.Sub) }
	return r
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

// Take delivers a push forwarded by another node to this node's
// subscribers only, through f: it reads the push's id and address, builds its
// message (FromPeer) and fans it out as a local publish is (Fan). A conn key
// of another node is refused. It runs on the link's goroutine.
func (r *Resolver[M]) Take(p *cluster.Push, f Fanout[M]) cluster.Result {
	seq, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil {
		return cluster.Result{Err: "bad message id"}
	}
	kind, name, ok := peerAddress(p)
	if !ok {
		return cluster.Result{Err: "bad address"}
	}
	var key push.ConnKey
	if kind == push.Conn {
		var node []byte
		key, node, ok = push.ParseConnKey(name)
		if !ok || (node != nil && string(node) != r.o.Self) {
			return cluster.Result{Err: "conn key is not held by this node"}
		}
	}
	m := r.o.FromPeer(seq, p)
	defer m.Release()
	sc := r.targets.Get().(*[]conntable.Sub)
	defer r.targets.Put(sc)
	var n int
	*sc, n, _ = r.Fan(f, (*sc)[:0], kind, name, key, m)
	return cluster.Result{Delivered: n}
}

// peerAddress is the kind and name of a peer's push: the kind travels in the
// link frame (linkPush), so only the name is cut from To; a push from a node
// that sends no kind is parsed whole.
func peerAddress(p *cluster.Push) (push.Kind, []byte, bool) {
	to := unsafe.Slice(unsafe.StringData(p.To), len(p.To)) // read only
	if p.Kind == 0 || p.Kind > uint8(push.All)+1 {
		return push.ParseAddress(to)
	}
	kind := push.Kind(p.Kind - 1)
	name, ok := push.AddressName(to, kind)
	return kind, name, ok
}
