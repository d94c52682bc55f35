package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// retryGap is the least time between two registration attempts while Redis is unreachable. It
// is short because a node re-registers (and replays to its streams what was stored meanwhile:
// RedisOptions.BeforeResync) only once it finds Redis back: until then its own local deliveries
// may go ahead of messages other nodes store for its users. A refused dial costs nothing.
const retryGap = 25 * time.Millisecond

// Start registers this node and starts the background goroutine. If the first registration
// fails, or does not end within ctx, its error is returned and the goroutine keeps trying
// (every retryGap) until Close. With Takeover the registration is only the heartbeat
// (takeover.go).
func (d *RedisDirectory) Start(ctx context.Context) error {
	d.mu.Lock()
	if d.started {
		d.mu.Unlock()
		return nil
	}
	d.started = true
	d.mu.Unlock()
	err := ctx.Err()
	switch {
	case err != nil:
	case d.o.Takeover:
		err = d.takeOver(ctx)
	default:
		err = d.beat(ctx)
	}
	go d.run()
	return err
}

// Close stops the background goroutine, removes this node's entries and registration (best
// effort, bounded by a few OpTimeouts) and closes the Redis client.
func (d *RedisDirectory) Close() error {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started {
		return errNotStarted
	}
	d.once.Do(func() { close(d.done) })
	<-d.finished
	c, err := d.client()
	if err != nil {
		return nil
	}
	defer c.Close()
	return d.unregister(c)
}

func (d *RedisDirectory) run() {
	defer close(d.finished)
	tick := time.NewTicker(min(d.o.NodeTTL/6, retryGap))
	defer tick.Stop()
	lastGC := time.Now()
	for {
		select {
		case <-d.done:
			return
		case <-d.kick:
			if d.checkNow.Swap(false) {
				_ = d.beat(context.Background())
			}
			d.flush()
			d.recheck()
		case now := <-tick.C:
			d.mu.Lock()
			sync := d.needSync
			d.mu.Unlock()
			if sync || d.checkNow.Swap(false) || now.Sub(d.lastBeat) >= d.o.NodeTTL/3 {
				_ = d.beat(context.Background())
			}
			d.recheck()
			if now.Sub(lastGC) >= d.o.NodeTTL {
				lastGC = now
				d.collect()
			}
		}
	}
}

// beat refreshes the heartbeat key and, when Redis may have lost or missed our entries,
// re-asserts all of them (resync), each request within ctx. It runs on run's goroutine (or in
// Start before run, within Start's ctx).
//
// The heartbeat is SET ... GET: a nil old value while we believed ourselves registered means
// Redis lost our data (restart without persistence, failover to a lagging replica, or we
// stalled past the TTL), so we resync.
func (d *RedisDirectory) beat(ctx context.Context) error {
	now := time.Now()
	before := d.lastBeat
	d.mu.Lock()
	sync, quiet := d.needSync, d.quietRe
	d.mu.Unlock()
	if sync && now.Sub(d.lastTry) < retryGap {
		return ErrDirectoryDown
	}
	d.lastTry = now
	c, err := d.connect()
	if err != nil {
		return err
	}
	p, self := d.o.Prefix, d.o.Self
	bctx, cancel := d.opCtx(ctx)
	// XX: a heartbeat only refreshes a key that is there. When it is gone the node stays
	// invisible until BeforeResync has run and resync sets it again: a publisher that finds the
	// node live again must find its streams holding (see RedisOptions.BeforeResync).
	// GET reads the mark a janitor leaves when it removed entries of ours while we were
	// (seen as) dead: if we came back meanwhile, some of what we re-added may be gone (redisgc.go).
	// It is taken after the re-sync (cutmark.go).
	rs := c.DoMulti(bctx,
		c.B().Set().Key(keyNode(p, self.ID)).Value(self.Addr).Xx().Get().Px(d.o.NodeTTL).Build(),
		c.B().Sadd().Key(keyNodes(p)).Member(self.ID).Build(),
		c.B().Get().Key(keyNodeCut(p, self.ID)).Build())
	cancel()
	d.roundTrips.Add(1)
	d.commands.Add(3)
	_, err = rs[0].ToString()
	lost := rueidis.IsRedisNil(err)
	if lost {
		err = nil
	}
	if err == nil {
		err = rs[1].Error()
	}
	cutMark, cutErr := rs[2].ToString()
	cut := cutErr == nil
	if err == nil && cutErr != nil && !rueidis.IsRedisNil(cutErr) {
		err = cutErr
	}
	if err != nil {
		if !sync && errors.Is(err, context.DeadlineExceeded) {
			// A heartbeat with no answer in time says nothing about our entries: Redis is
			// slow or paused, not necessarily empty. The next beat (at the next tick: lastBeat
			// is not moved) tells, with SET XX GET, whether anything was lost; only then is a
			// re-sync due. Re-asserting every entry and replaying every stream on a timeout
			// would add O(connections) commands to a Redis that is already late: at 95,000
			// streams on a loaded machine, such re-syncs doubled the directory's commands.
			if !d.beatLate {
				d.o.Logger.Warn("cluster: redis heartbeat got no answer in time; retrying", "node", self.ID, "err", err)
			}
			d.beatLate = true
			return d.down(err)
		}
		if !sync {
			d.o.Logger.Warn("cluster: redis directory unreachable", "node", self.ID, "err", err)
		}
		d.markUnsynced()
		return d.down(err)
	}
	d.beatLate = false
	d.lastBeat = now
	if lost && !sync {
		d.o.Logger.Warn("cluster: node registration was lost in redis; re-asserting entries", "node", self.ID)
		d.markUnsynced()
		sync = true
	}
	if cut && !sync {
		d.o.Logger.Warn("cluster: another node collected entries of this node while it was seen as dead; re-asserting entries", "node", self.ID)
		d.markUnsynced()
		sync = true
	}
	if !sync {
		return nil
	}
	if !before.IsZero() {
		d.wholeMs.Store(before.UnixMilli())
	}
	// A re-sync only Resync asked for (lost and cut are not set then, and no write failed) runs
	// no hooks: the entries never left Redis, so no publisher missed the node.
	hooks := !quiet || lost || cut
	if hooks && d.o.BeforeResync != nil {
		d.o.BeforeResync()
	}
	err = d.resync(ctx, c)
	for try := 0; try < 3 && err != nil && ctxErrNone(err); try++ {
		// The first commands on a Redis that just came back may meet the connections that broke
		// with the old one (rueidis has replaced them by then; it multiplexes several): try again
		// at once rather than a retryGap later — the streams hold their live messages meanwhile,
		// and a failure releases them before what the re-sync would replay.
		err = d.resync(ctx, c)
	}
	if hooks && d.o.AfterResync != nil {
		d.o.AfterResync(err == nil)
	}
	if err != nil {
		d.markUnsynced()
		return err
	}
	if cut {
		d.takeCutMark(c, cutMark)
	}
	if hooks {
		d.replayDue.Store(false) // the hooks just ran: a pending Recheck is served
	}
	d.o.Logger.Info("cluster: redis directory in sync", "node", self.ID)
	return nil
}

// WholeUntil is the time of this node's last heartbeat before its latest re-sync: until then
// its entries in Redis were whole (its heartbeat lived); what a gap after it lost, the re-sync
// put back. Zero before a re-sync that followed a heartbeat. The re-sync hooks read it to
// date what they enter again (a stream entered again began no later than this).
func (d *RedisDirectory) WholeUntil() time.Time {
	if ms := d.wholeMs.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// ctxErrNone reports an error that is not a timeout: worth one immediate retry.
func ctxErrNone(err error) bool {
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// connectionLost is the client's OnInvalidations callback: rueidis calls it with nil when a
// connection ends (its cache is dropped) and when Redis flushed everything. Either way this
// node's entries may be gone, so the directory checks its heartbeat at once (beat's SET ... GET
// tells) instead of at the next heartbeat: a Redis that restarted empty is noticed in
// milliseconds. Invalidations of single keys (non-nil) are ignored here.
func (d *RedisDirectory) connectionLost(keys []rueidis.RedisMessage) {
	if keys != nil {
		return
	}
	d.checkNow.Store(true)
	d.wake()
}

// resync makes Redis hold exactly the mirror: it removes what this node's own sets list and the
// mirror does not (entries of a previous incarnation, removals that failed while Redis was
// unreachable) and re-adds the whole mirror. Ops queued after the snapshot are sent after it.
func (d *RedisDirectory) resync(ctx context.Context, c rueidis.Client) error {
	d.mu.Lock()
	var snap [2][]string
	for k, m := range d.mirror {
		snap[k] = make([]string, 0, len(m))
		for name := range m {
			snap[k] = append(snap[k], name)
		}
	}
	d.ops = nil
	d.needSync, d.quietRe = false, false
	d.mu.Unlock()

	p, self := d.o.Prefix, d.o.Self.ID
	// The heartbeat first (beat's own only refreshes an existing key): from here on the node
	// is live to readers, and its entries follow.
	sctx, cancel := d.opCtx(ctx)
	err := c.Do(sctx, c.B().Set().Key(keyNode(p, self)).Value(d.o.Self.Addr).Px(d.o.NodeTTL).Build()).Error()
	cancel()
	d.roundTrips.Add(1)
	d.commands.Add(1)
	if err != nil {
		return d.down(err)
	}
	for k := kindUser; k <= kindTopic; k++ {
		have, err := d.scanSet(ctx, c, nodeSetKey(p, self, k))
		if err != nil {
			return err
		}
		want := make(map[string]struct{}, len(snap[k]))
		for _, n := range snap[k] {
			want[n] = struct{}{}
		}
		var cmds rueidis.Commands
		var stale []string
		for _, n := range have {
			if _, ok := want[n]; !ok {
				cmds = append(cmds, indexCmd(c, p, self, k, false, n))
				stale = append(stale, n)
			}
		}
		cmds = appendNodeSetCmds(cmds, c, p, self, k, false, stale)
		for _, n := range snap[k] {
			cmds = append(cmds, indexCmd(c, p, self, k, true, n))
		}
		cmds = appendNodeSetCmds(cmds, c, p, self, k, true, snap[k])
		if err := d.send(ctx, c, cmds); err != nil {
			return err
		}
	}
	d.resyncs.Add(1)
	return nil
}

// appendNodeSetCmds appends SADD/SREM commands of at most 512 members each.
func appendNodeSetCmds(cmds rueidis.Commands, c rueidis.Client, p, id string, k kind, add bool, names []string) rueidis.Commands {
	for len(names) > 0 {
		n := min(len(names), 512)
		cmds = append(cmds, nodeSetCmd(c, p, id, k, add, names[:n]))
		names = names[n:]
	}
	return cmds
}

// scanSet reads a whole set with SSCAN (never a blocking SMEMBERS on a big set).
func (d *RedisDirectory) scanSet(ctx context.Context, c rueidis.Client, key string) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		sctx, cancel := d.opCtx(ctx)
		e, err := c.Do(sctx, c.B().Sscan().Key(key).Cursor(cursor).Count(1000).Build()).AsScanEntry()
		cancel()
		d.roundTrips.Add(1)
		if err != nil {
			return nil, d.down(err)
		}
		out = append(out, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return out, nil
		}
	}
}

// unregister removes every entry of this node and its registration.
func (d *RedisDirectory) unregister(c rueidis.Client) error {
	p, self := d.o.Prefix, d.o.Self.ID
	var cmds rueidis.Commands
	for k := kindUser; k <= kindTopic; k++ {
		have, err := d.scanSet(context.Background(), c, nodeSetKey(p, self, k))
		if err != nil {
			return err
		}
		for _, n := range have {
			cmds = append(cmds, indexCmd(c, p, self, k, false, n))
		}
		cmds = append(cmds, c.B().Del().Key(nodeSetKey(p, self, k)).Build())
	}
	cmds = append(cmds,
		c.B().Del().Key(keyNode(p, self)).Build(),
		c.B().Srem().Key(keyNodes(p)).Member(self).Build())
	return d.send(context.Background(), c, cmds)
}
