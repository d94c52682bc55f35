package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster/redisconn"
)

// RedisOptions configures a RedisDirectory.
type RedisOptions struct {
	URL           string        // redis://[user:pass@]host:port[,host:port...][/db]; see redisconn.ClientOption
	Self          Node          // this node
	NodeTTL       time.Duration // heartbeat TTL (--node-ttl); 0 = 15s
	OpTimeout     time.Duration // bound on every Redis request; 0 = 1s
	CacheTTL      time.Duration // longest life of a client-side cache entry; 0 = 5m (invalidation keeps entries exact before that)
	BatchCommands int           // write commands per pipeline; 0 = 4096
	Prefix        string        // key prefix; "" = "pw:"
	Logger        *slog.Logger  // nil = slog.Default()
	Observer      Observer      // Redis request latency for /metrics; nil = none

	// BeforeResync, when set, is called on the directory's goroutine just before it
	// re-registers this node's entries after a gap (Redis restarted empty or lost them, writes
	// failed, the node stalled past its TTL), and AfterResync right after, with whether the
	// registrations were written. A publisher that looked this node up in the gap missed it, but
	// stored its QoS 1 message before that lookup, so before AfterResync(true): the server holds
	// its users' live messages from BeforeResync on and, after AfterResync(true), replays what
	// was stored meanwhile, then the held ones (resync.go in package server). BeforeResync may
	// block briefly; neither may wait on the directory (Flush).
	BeforeResync func()
	AfterResync  func(ok bool)

	// Takeover says this process takes over a live registration of Self.ID whose entries the
	// process before it left in Redis (an upgrade's new process: the same names, as
	// mirrored before Start). Start then only refreshes the heartbeat and counts the entries
	// in sync, without reading or re-adding them (a full re-sync, 0.5 s per 100k names, would
	// lengthen the upgrade's pause: nothing moves until the new process is ready); Resync
	// mends what the process before left unwritten, once this one serves (takeover.go).
	Takeover bool

	// UserConns says the nodes keep per-user connection sets (pw:uc:<user>,
	// --max-conns-per-user): the janitor then takes a dead node's keys out of them
	// (usercollect.go). Every node of a cluster should say the same.
	UserConns bool
}

func (o *RedisOptions) fill() {
	if o.NodeTTL <= 0 {
		o.NodeTTL = 15 * time.Second
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = time.Second
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.BatchCommands <= 0 {
		o.BatchCommands = 4096
	}
	if o.Prefix == "" {
		o.Prefix = "pw:"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// RedisDirectory is the cluster Directory on Redis (see doc.go for keys and guarantees).
//
// Goroutines: callers' reads go straight to rueidis; every write, the heartbeat, resync and the
// dead-node janitor run on one background goroutine (run), so they never race each other.
//
// Lock contract: mu guards the fields below it and is never held across a Redis request.
type RedisDirectory struct {
	o    RedisOptions
	copt rueidis.ClientOption
	cli  atomic.Pointer[rueidis.Client] // nil until the first successful dial

	roundTrips, hits, misses, commands, errs, resyncs, rechecks atomic.Uint64

	kick     chan struct{} // wakes run for queued changes (capacity 1: wake-ups merge)
	done     chan struct{}
	finished chan struct{}
	once     sync.Once

	mu       sync.Mutex
	mirror   [2]map[string]struct{} // this node's entries by kind (users, topics): what Redis must hold
	ops      []op                   // changes not yet sent, in order
	waiters  []chan error           // Flush callers waiting for the ops queued before them
	needSync bool                   // Redis may disagree with mirror: re-assert everything before sending ops
	quietRe  bool                   // needSync is only Resync's: the re-sync hooks need not run (takeover.go)
	started  bool

	checkNow  atomic.Bool  // a connection ended: check the heartbeat at once (connectionLost)
	replayDue atomic.Bool  // Recheck: run the re-sync hooks at the next tick (recheck.go)
	wholeMs   atomic.Int64 // unix ms of the last heartbeat before the latest re-sync (WholeUntil)

	// Owned by run.
	lastBeat time.Time
	lastTry  time.Time
	beatLate bool // the last heartbeat got no answer in time (run goroutine only; redisnode.go)
}

var _ Directory = (*RedisDirectory)(nil)

// NewRedisDirectory checks the options; it does not dial (Start does, and keeps retrying).
func NewRedisDirectory(o RedisOptions) (*RedisDirectory, error) {
	o.fill()
	if o.Self.ID == "" || o.Self.Addr == "" {
		return nil, errors.New("cluster: RedisOptions.Self needs ID and Addr")
	}
	copt, err := redisconn.ClientOption(o.URL, o.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis url: %w", err)
	}
	d := &RedisDirectory{
		o:        o,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		needSync: true, // a previous incarnation of this node id may have left entries behind
	}
	for i := range d.mirror {
		d.mirror[i] = make(map[string]struct{})
	}
	copt.OnInvalidations = d.connectionLost
	d.copt = copt
	return d, nil
}

// client returns the rueidis client or an ErrDirectoryDown error when none could be made yet.
func (d *RedisDirectory) client() (rueidis.Client, error) {
	if p := d.cli.Load(); p != nil {
		return *p, nil
	}
	return nil, fmt.Errorf("%w: not connected", ErrDirectoryDown)
}

// connect makes the client if there is none. Only run (and Start before run) call it.
func (d *RedisDirectory) connect() (rueidis.Client, error) {
	if p := d.cli.Load(); p != nil {
		return *p, nil
	}
	c, err := rueidis.NewClient(d.copt)
	if err != nil {
		return nil, d.down(err)
	}
	c = redisconn.Timed(c, d.o.Observer)
	d.cli.Store(&c)
	return c, nil
}

// down counts a failure and wraps it so that callers can test errors.Is(err, ErrDirectoryDown).
func (d *RedisDirectory) down(err error) error {
	d.errs.Add(1)
	return fmt.Errorf("%w: %w", ErrDirectoryDown, err)
}

// A caller whose own deadline comes as soon (the router's shared lookup
// bound) needs no second timer.
func (d *RedisDirectory) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d.o.OpTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d.o.OpTimeout)
}

// Stats returns the counters.
func (d *RedisDirectory) Stats() DirStats {
	return DirStats{
		RoundTrips: d.roundTrips.Load(), CacheHits: d.hits.Load(), CacheMisses: d.misses.Load(),
		Commands: d.commands.Load(), Errors: d.errs.Load(), Resyncs: d.resyncs.Load(), Rechecks: d.rechecks.Load(),
	}
}

// cached runs cacheable lookups as one pipeline and counts hits and misses; a pipeline with any
// miss is one round trip.
func (d *RedisDirectory) cached(ctx context.Context, c rueidis.Client, cts ...rueidis.CacheableTTL) []rueidis.RedisResult {
	return d.pipelineCached(ctx, c, true, cts)
}

// pipelineCached is cached; lookups false counts only the round trip: a prefetch's reads are
// not lookups, and the lookups that follow it count as hits, so counting its misses too would
// count every prefetched name twice.
func (d *RedisDirectory) pipelineCached(ctx context.Context, c rueidis.Client, lookups bool, cts []rueidis.CacheableTTL) []rueidis.RedisResult {
	// rueidis recycles a command once it has been sent; the retry below sends the same ones
	// again, so they are pinned first. (Unpinned, a retry panicked with "a command should be
	// finished by calling Build() or Cache()" in the cluster tests with Redis down, and could
	// send a command another goroutine was building.)
	for i := range cts {
		cts[i].Cmd = cts[i].Cmd.Pin()
	}
	rs := d.doCached(ctx, c, cts)
	// A connection that broke while idle reports its error on first use; rueidis has already
	// replaced it (and dropped its cache) by then, so one immediate retry either succeeds or
	// fails fast with the real cause (connection refused).
	for _, r := range rs {
		if r.NonRedisError() != nil && ctx.Err() == nil {
			rs = d.doCached(ctx, c, cts)
			break
		}
	}
	missed := false
	for _, r := range rs {
		hit := r.IsCacheHit()
		missed = missed || !hit
		switch {
		case !lookups:
		case hit:
			d.hits.Add(1)
		default:
			d.misses.Add(1)
		}
	}
	if missed {
		d.roundTrips.Add(1)
	}
	return rs
}

func (d *RedisDirectory) doCached(ctx context.Context, c rueidis.Client, cts []rueidis.CacheableTTL) []rueidis.RedisResult {
	if len(cts) == 1 {
		return []rueidis.RedisResult{c.DoCache(ctx, cts[0].Cmd, cts[0].TTL)}
	}
	return c.DoMultiCache(ctx, cts...)
}

// liveAddrs returns the link address of each id, "" for ids whose heartbeat key is gone.
func (d *RedisDirectory) liveAddrs(ctx context.Context, c rueidis.Client, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cts := make([]rueidis.CacheableTTL, len(ids))
	for i, id := range ids {
		cts[i] = rueidis.CT(c.B().Get().Key(keyNode(d.o.Prefix, id)).Cache(), d.o.CacheTTL)
	}
	addrs := make([]string, len(ids))
	for i, r := range d.cached(ctx, c, cts...) {
		a, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, d.down(err)
		}
		addrs[i] = a
	}
	return addrs, nil
}

// NodeAddr returns the link address of a live node.
func (d *RedisDirectory) NodeAddr(ctx context.Context, id string) (string, error) {
	c, err := d.client()
	if err != nil {
		return "", err
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	addrs, err := d.liveAddrs(ctx, c, []string{id})
	if err != nil {
		return "", err
	}
	if addrs[0] == "" {
		return "", ErrUnknownNode
	}
	return addrs[0], nil
}

// Nodes returns the live nodes sorted by id.
func (d *RedisDirectory) Nodes(ctx context.Context) ([]Node, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	ids, err := d.set(ctx, c, keyNodes(d.o.Prefix))
	if err != nil {
		return nil, err
	}
	addrs, err := d.liveAddrs(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(ids))
	for i, id := range ids {
		if addrs[i] != "" {
			out = append(out, Node{ID: id, Addr: addrs[i]})
		}
	}
	return out, nil
}

// set reads a set through the cache, sorted.
func (d *RedisDirectory) set(ctx context.Context, c rueidis.Client, key string) ([]string, error) {
	r := d.cached(ctx, c, rueidis.CT(c.B().Smembers().Key(key).Cache(), d.o.CacheTTL))[0]
	ms, err := r.AsStrSlice()
	if err != nil {
		return nil, d.down(err)
	}
	slices.Sort(ms)
	return ms, nil
}

// Prefetch reads the node sets of users and topics in one pipelined round trip into the
// client-side cache, so that the UserNodes and TopicNodes calls that follow for them are
// answered from memory: a batch publish to 1,000 users not seen lately costs one round trip
// instead of 1,000 in a row under one lookup deadline. Errors are left to those calls.
func (d *RedisDirectory) Prefetch(ctx context.Context, users, topics []string) {
	if len(users)+len(topics) < 2 {
		return
	}
	c, err := d.client()
	if err != nil {
		return
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	cts := make([]rueidis.CacheableTTL, 0, len(users)+len(topics))
	for _, u := range users {
		cts = append(cts, rueidis.CT(c.B().Smembers().Key(keyUser(d.o.Prefix, u)).Cache(), d.o.CacheTTL))
	}
	for _, t := range topics {
		cts = append(cts, rueidis.CT(c.B().Smembers().Key(keyTopic(d.o.Prefix, t)).Cache(), d.o.CacheTTL))
	}
	d.pipelineCached(ctx, c, false, cts)
}

// UserNodes returns the live nodes holding connections of user, sorted.
func (d *RedisDirectory) UserNodes(ctx context.Context, user string) ([]string, error) {
	return d.liveMembers(ctx, keyUser(d.o.Prefix, user))
}

// TopicNodes returns the live nodes holding subscribers of topic, sorted.
func (d *RedisDirectory) TopicNodes(ctx context.Context, topic string) ([]string, error) {
	return d.liveMembers(ctx, keyTopic(d.o.Prefix, topic))
}

func (d *RedisDirectory) liveMembers(ctx context.Context, key string) ([]string, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	ids, err := d.set(ctx, c, key)
	if err != nil {
		return nil, err
	}
	addrs, err := d.liveAddrs(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	live := ids[:0]
	for i, id := range ids {
		if addrs[i] != "" {
			live = append(live, id)
		}
	}
	return live, nil
}
