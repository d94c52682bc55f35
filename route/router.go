package route

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// Message is a push the router forwards or takes, held by reference: Route
// releases each item's once it is routed. It is what the stores keep, as the
// Resolver hands it to store.Recent.
type Message = store.Message

// Item is one push of a routing job and, once Route returns, what became of
// it beyond this node.
type Item[M Message] struct {
	Kind  push.Kind
	Node  string // a conn push: the node holding the key
	Msg   M      // released by Route
	Store bool   // a QoS 1 user push: stored (Options.Store) before anything else
	Tag   int    // the caller's: which of its results this push is

	Stored      bool     // Store succeeded
	StoreErr    error    // Store failed: the push went nowhere else
	Delivered   int      // connections reached on other nodes
	Nodes       int      // other nodes that delivered it to a connection
	Unreachable []string // nodes that may hold the target and were not reached
	Failure     string   // why they were not, when that is a failure (SPEC §4)
}

// Options configures a Router.
type Options[M Message] struct {
	Self  string // this node's id: never forwarded to
	Dir   cluster.Directory
	Links *links.Links
	// Store keeps a QoS 1 user message before it is forwarded (the edge's
	// QoS 1 mailbox); it runs on a router worker.
	Store func(ctx context.Context, m M) error
	// Resolver and FromPeer take the pushes peers forward to this node
	// (Take): FromPeer builds a push's message, its id already parsed, and
	// Take releases it once the Resolver delivered it.
	Resolver *Resolver[M]
	FromPeer func(seq uint64, p *links.Push) M
	// LookupTimeout bounds a job's directory lookups (keep it within the
	// directory's own bound, so it adds no timer); ForwardTimeout its stores
	// and forwards, so a peer that holds its link open but never answers
	// costs a 503, not a hung publisher.
	LookupTimeout, ForwardTimeout time.Duration
	Logger                        *slog.Logger // nil = slog.Default()
}

// The router's workers (see Pool): one per job waiting on Redis or a peer,
// up to workers; each leaves after linger idle.
const (
	workers = 1024
	queue   = 4096
	linger  = 30 * time.Second
)

// maxKnown bounds the last-known answers kept; past it they are forgotten
// at once (they only refine the answers given while the directory is down).
const maxKnown = 1 << 16

// Router routes the pushes other nodes must take, and runs whatever else
// waits on Redis or a peer (Submit). Safe for concurrent use.
//
// Lock contract: knownMu guards known; Route's own mu guards its items'
// outcomes while nodes are forwarded to side by side. Neither is held while
// the other is taken, nor across I/O.
type Router[M Message] struct {
	o               Options[M]
	pool            *Pool
	lookup, forward Deadline
	debug           bool
	knownMu         sync.Mutex
	known           map[string][]string // the directory's last answer per address, for when it is down
	targets         sync.Pool           // *[]conntable.Sub, Take's scratch
}

// New makes a router; its workers start with the first job.
func New[M Message](o Options[M]) *Router[M] {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Router[M]{o: o, pool: NewPool(workers, queue, linger), known: map[string][]string{},
		lookup: Deadline{D: o.LookupTimeout}, forward: Deadline{D: o.ForwardTimeout},
		debug: o.Logger.Enabled(context.Background(), slog.LevelDebug)}
	r.targets.New = func() any { return new([]conntable.Sub) }
	return r
}

// Submit hands job to the router's workers without ever blocking; false
// when the router is saturated.
func (r *Router[M]) Submit(job func()) bool { return r.pool.Submit(job) }

// Close runs the jobs already submitted and waits for them. No Submit may
// come after it.
func (r *Router[M]) Close() { r.pool.Close() }

// Workers reports how many workers run.
func (r *Router[M]) Workers() int { return r.pool.Workers() }

// LookupContext and ForwardContext bound work started about now that waits
// on the directory, or on stores and peers, as a routing job's would be.
func (r *Router[M]) LookupContext(now time.Time) context.Context  { return r.lookup.At(now) }
func (r *Router[M]) ForwardContext(now time.Time) context.Context { return r.forward.At(now) }

// Route takes items beyond this node: it stores each QoS 1 user push, looks
// up the nodes its target is on (this one left out: the caller delivered
// here), forwards it to them — one batch per node, the nodes side by side —
// and fills in each item's outcome. It releases every item's message and
// returns how many pushes it forwarded. It runs on a router worker (a job
// given to Submit).
func (r *Router[M]) Route(items []Item[M]) (forwarded int) {
	now := time.Now()
	lookup, ctx := r.lookup.At(now), r.forward.At(now)
	r.prefetch(lookup, items)
	perNode := map[string][]int{}
	var conns connCheck
	for i := range items {
		it := &items[i]
		if it.Store {
			if err := r.o.Store(ctx, it.Msg); err != nil {
				it.StoreErr = err
				continue
			}
			it.Stored = true
		}
		nodes, err := r.nodesFor(lookup, it, &conns)
		switch {
		case err == nil:
		case it.Kind == push.Conn && errors.Is(err, cluster.ErrUnknownNode):
			// The key's node is gone: nobody holds it, even if a link to
			// it has not noticed yet.
			nodes = nil
		default:
			// The directory is down: the nodes it last named (but this one)
			// may hold the target and are not reached; a push that reached
			// nobody is a 503, one delivered here stays a 200.
			if it.Kind == push.Conn {
				it.Unreachable = append(it.Unreachable, it.Node)
			} else {
				it.Unreachable = r.otherKnown(it, it.Unreachable)
			}
			it.Failure = "cluster directory unavailable, and the target is not on this node: " + err.Error()
			nodes = nil
		}
		for _, n := range nodes {
			if n != r.o.Self {
				perNode[n] = append(perNode[n], i)
			}
		}
	}
	var mu sync.Mutex
	forward := func(node string, idxs []int) {
		pushes := make([]*links.Push, len(idxs))
		for k, i := range idxs {
			pushes[k] = linkPush(items[i].Msg.Push(), items[i].Kind)
		}
		results, err := r.o.Links.ForwardBatch(ctx, node, pushes)
		mu.Lock()
		defer mu.Unlock()
		for k, i := range idxs {
			it := &items[i]
			var res links.Result
			if k < len(results) {
				res = results[k]
			}
			if err != nil && k >= len(results) {
				res.Err = err.Error()
			}
			switch {
			case err != nil && it.Kind == push.Conn && errors.Is(err, cluster.ErrUnknownNode):
			case res.Err != "" && errors.Is(err, links.ErrNodeGone):
				// Refused or reset: no process there, so it holds no live
				// connection. Named, but no failure (SPEC §4).
				it.Unreachable = append(it.Unreachable, node)
			case res.Err != "":
				it.Unreachable = append(it.Unreachable, node)
				it.addFailure("node " + node + " not reached: " + res.Err)
			default:
				it.Delivered += res.Delivered
				if res.Delivered > 0 {
					it.Nodes++
				}
			}
			if r.debug {
				r.o.Logger.Debug("hop: forwarded", "trace", it.Msg.Push().Seq, "to", node, "delivered", res.Delivered, "err", err)
			}
		}
	}
	// One node to reach (the common case: a key's node, a user on one other
	// node) is forwarded right here: a goroutine each pays a hand-off only
	// when several nodes can be waited on in parallel.
	for _, idxs := range perNode {
		forwarded += len(idxs) // sent or failed, each counts (a closure capturing it would cost an allocation)
	}
	if len(perNode) == 1 {
		for node, idxs := range perNode {
			forward(node, idxs)
		}
	} else {
		var wg sync.WaitGroup
		for node, idxs := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				forward(node, idxs)
			}()
		}
		wg.Wait()
	}
	for i := range items {
		items[i].Msg.Release()
	}
	return forwarded
}

// Take delivers a push forwarded by another node to this node's
// subscribers only, through f: it reads the push's id and address, builds its
// message (Options.FromPeer) and fans it out as a local publish is
// (Resolver.Fan). A conn key
// of another node is refused. It runs on the link's goroutine.
func (r *Router[M]) Take(p *links.Push, f Fanout[M]) links.Result {
	seq, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil {
		return links.Result{Err: "bad message id"}
	}
	kind, name, ok := peerAddress(p)
	if !ok {
		return links.Result{Err: "bad address"}
	}
	var key push.ConnKey
	if kind == push.Conn {
		var node []byte
		key, node, ok = push.ParseConnKey(name)
		if !ok || (node != nil && string(node) != r.o.Self) {
			return links.Result{Err: "conn key is not held by this node"}
		}
	}
	m := r.o.FromPeer(seq, p)
	defer m.Release()
	sc := r.targets.Get().(*[]conntable.Sub)
	defer r.targets.Put(sc)
	var n int
	*sc, n, _ = r.o.Resolver.Fan(f, (*sc)[:0], kind, name, key, m)
	return links.Result{Delivered: n}
}

// addFailure records why a node that may hold the target was not reached.
func (it *Item[M]) addFailure(why string) {
	if it.Failure != "" {
		it.Failure += "; "
	}
	it.Failure += why
}

// nodesFor looks up the nodes a push must reach, this one included or not.
// prefetcher is a directory that can read many users' and topics' node sets
// in one round trip ahead of the lookups (cluster.RedisDirectory); the
// in-memory one needs none.
type prefetcher interface {
	Prefetch(ctx context.Context, users, topics []string)
}

// prefetch warms the directory for a job's user and topic items, so that
// its lookups, made one by one under one deadline, cost one round trip in
// all (TestFifteenThousandConnections: 1,000 users in one batch).
func (r *Router[M]) prefetch(ctx context.Context, items []Item[M]) {
	p, ok := r.o.Dir.(prefetcher)
	if !ok || len(items) < 2 {
		return
	}
	var users, topics []string
	for i := range items {
		switch to := string(items[i].Msg.Push().To); items[i].Kind {
		case push.User:
			users = append(users, to[len("user:"):])
		case push.Topic:
			topics = append(topics, to[len("topic:"):])
		}
	}
	p.Prefetch(ctx, users, topics)
}

// connCheck is the last conn push's node a Route call checked: a batch of
// conn pushes to one node (a pipelined publisher's, routed together) asks
// the directory once, not once a push.
type connCheck struct {
	node  []string // the node, alone
	err   error
	valid bool
}

func (r *Router[M]) nodesFor(ctx context.Context, it *Item[M], cc *connCheck) ([]string, error) {
	var nodes []string
	var err error
	switch to := string(it.Msg.Push().To); it.Kind {
	case push.Conn:
		if !cc.valid || cc.node[0] != it.Node {
			_, cc.err = r.o.Dir.NodeAddr(ctx, it.Node)
			cc.node, cc.valid = []string{it.Node}, true
		}
		return cc.node, cc.err
	case push.User:
		nodes, err = r.o.Dir.UserNodes(ctx, to[len("user:"):])
	case push.Topic:
		nodes, err = r.o.Dir.TopicNodes(ctx, to[len("topic:"):])
	default:
		var all []cluster.Node
		all, err = r.o.Dir.Nodes(ctx)
		for _, n := range all {
			nodes = append(nodes, n.ID)
		}
	}
	if err == nil {
		r.remember(string(it.Msg.Push().To), nodes)
	}
	return nodes, err
}

func (r *Router[M]) remember(to string, nodes []string) {
	r.knownMu.Lock()
	defer r.knownMu.Unlock()
	if len(r.known) >= maxKnown {
		clear(r.known)
	}
	r.known[to] = nodes
}

// otherKnown appends the nodes other than this one that the directory last
// said hold the push's target (none when it was never asked).
func (r *Router[M]) otherKnown(it *Item[M], dst []string) []string {
	r.knownMu.Lock()
	defer r.knownMu.Unlock()
	for _, n := range r.known[string(it.Msg.Push().To)] {
		if n != r.o.Self {
			dst = append(dst, n)
		}
	}
	return dst
}

// linkPush is m as a link frame carries it, its address kind included so
// the peer does not parse it again.
func linkPush(m *push.Message, kind push.Kind) *links.Push {
	return &links.Push{Trace: m.Seq, ID: string(m.ID), To: string(m.To), Event: string(m.Event),
		ContentType: string(m.ContentType), JSON: m.JSON, QoS: m.QoS, Kind: uint8(kind) + 1, Data: m.Data}
}

// peerAddress is the kind and name of a peer's push: the kind travels in the
// link frame (linkPush), so only the name is cut from To; a push from a node
// that sends no kind is parsed whole.
func peerAddress(p *links.Push) (push.Kind, []byte, bool) {
	to := unsafe.Slice(unsafe.StringData(p.To), len(p.To)) // read only
	if p.Kind == 0 || p.Kind > uint8(push.All)+1 {
		return push.ParseAddress(to)
	}
	kind := push.Kind(p.Kind - 1)
	name, ok := push.AddressName(to, kind)
	return kind, name, ok
}
