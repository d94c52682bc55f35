package cluster

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// gcLockTTL bounds how long a janitor that died mid-way blocks others from collecting the node.
const gcLockTTL = 30 * time.Second

// collect deletes the entries of dead nodes: nodes listed in the nodes set whose heartbeat key
// has expired. Readers already ignore such entries (they filter by live heartbeat); this only
// reclaims memory. One live node collects a given dead node at a time (SET NX lock).
//
// A node that comes back while it is being collected may have re-added entries just before the
// janitor removes a page of them (both nodes' heartbeats expire together when Redis stalls past
// the TTL, and each collects the other). The janitor re-checks the heartbeat before every page,
// which keeps that to one page, and after each page it leaves a mark (pw:n:{id}:cut) that the
// node's next heartbeat reads: a node that finds it re-syncs, and only then takes it (cutmark.go),
// so no entry it holds stays removed for longer than a heartbeat interval.
func (d *RedisDirectory) collect() {
	c, err := d.client()
	if err != nil {
		return
	}
	p := d.o.Prefix
	ctx, cancel := d.opCtx(context.Background())
	ids, err := c.Do(ctx, c.B().Smembers().Key(keyNodes(p)).Build()).AsStrSlice()
	cancel()
	d.roundTrips.Add(1)
	if err != nil {
		d.errs.Add(1)
		return
	}
	for _, id := range ids {
		if id == d.o.Self.ID || d.alive(c, id) {
			continue
		}
		ctx, cancel := d.opCtx(context.Background())
		err := c.Do(ctx, c.B().Set().Key(keyNodeGC(p, id)).Value(d.o.Self.ID).Nx().Px(gcLockTTL).Build()).Error()
		cancel()
		d.roundTrips.Add(1)
		if err != nil { // nil reply: someone else holds the lock
			continue
		}
		if err := d.collectNode(c, id); err != nil {
			d.o.Logger.Warn("cluster: collecting dead node entries", "dead", id, "err", err)
		}
	}
}

// cutMarkTTL is how long a collected node's mark waits for its heartbeat: many heartbeats of a
// node that came back; a node that stays dead leaves nothing behind for long.
func cutMarkTTL(nodeTTL time.Duration) time.Duration { return max(10*nodeTTL, gcLockTTL) }

// alive reports whether id's heartbeat key exists (uncached: a janitor must not trust a cache).
func (d *RedisDirectory) alive(c rueidis.Client, id string) bool {
	ctx, cancel := d.opCtx(context.Background())
	defer cancel()
	n, err := c.Do(ctx, c.B().Exists().Key(keyNode(d.o.Prefix, id)).Build()).AsInt64()
	d.roundTrips.Add(1)
	return err != nil || n > 0 // on error assume alive: never delete what we cannot check
}

func (d *RedisDirectory) collectNode(c rueidis.Client, id string) error {
	p := d.o.Prefix
	if d.o.UserConns {
		if err := d.loadDropNodeConns(c); err != nil { // usercollect.go
			return err
		}
	}
	for k := kindUser; k <= kindTopic; k++ {
		key := nodeSetKey(p, id, k)
		var cursor uint64
		for {
			if d.alive(c, id) {
				return nil
			}
			ctx, cancel := d.opCtx(context.Background())
			e, err := c.Do(ctx, c.B().Sscan().Key(key).Cursor(cursor).Count(1000).Build()).AsScanEntry()
			cancel()
			d.roundTrips.Add(1)
			if err != nil {
				return d.down(err)
			}
			cmds := make(rueidis.Commands, 0, len(e.Elements))
			for _, n := range e.Elements {
				cmds = append(cmds, indexCmd(c, p, id, k, false, n))
			}
			if err := d.send(context.Background(), c, cmds); err != nil {
				return err
			}
			if k == kindUser && d.o.UserConns {
				if err := d.dropNodeConns(c, id, e.Elements); err != nil { // usercollect.go
					return err
				}
			}
			if err := d.send(context.Background(), c, rueidis.Commands{c.B().Set().Key(keyNodeCut(p, id)).Value(d.cutMarkValue()).Px(cutMarkTTL(d.o.NodeTTL)).Build()}); err != nil {
				return err
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	if d.alive(c, id) {
		return nil
	}
	return d.dropNodeSets(c, id) // gcfinal.go
}
