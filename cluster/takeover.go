package cluster

import (
	"context"
	"time"
)

// An upgrade's new process takes over its node's registration (RedisOptions.Takeover): the
// process before it kept the same node id and never removed its entries, and the new one
// mirrors the names its adopted connections hold before Start. A full re-sync there (SSCAN of
// the node's sets, every name re-added) would hold the upgrade's pause — the old process is
// frozen until the new one is ready — for about 0.5 s per 100k names on loopback, more over a
// network. So Start only sets the heartbeat and counts the entries in sync; the changes made
// from then on are written as usual, and Resync, once the new process serves, makes Redis
// hold exactly the mirror in the background (mending a change the old process had queued but
// not written when it stopped). A later loss (heartbeat gone, the janitor's cut mark, a
// failed write) re-syncs as ever.

// takeOver sets the heartbeat (unconditionally: the old process's may still be there, or may
// have expired) and the node in the node set, within ctx, and counts the entries in sync. On
// an error nothing is counted: run's heartbeat registers the node in full later.
func (d *RedisDirectory) takeOver(ctx context.Context) error {
	now := time.Now()
	d.lastTry = now
	c, err := d.connect()
	if err != nil {
		return err
	}
	p, self := d.o.Prefix, d.o.Self
	octx, cancel := d.opCtx(ctx)
	rs := c.DoMulti(octx,
		c.B().Set().Key(keyNode(p, self.ID)).Value(self.Addr).Px(d.o.NodeTTL).Build(),
		c.B().Sadd().Key(keyNodes(p)).Member(self.ID).Build())
	cancel()
	d.roundTrips.Add(1)
	d.commands.Add(2)
	for _, r := range rs {
		if err := r.Error(); err != nil {
			return d.down(err)
		}
	}
	d.mu.Lock()
	d.needSync = false
	d.mu.Unlock()
	d.lastBeat = now
	d.o.Logger.Info("cluster: redis directory taken over; its entries are re-checked once this process serves", "node", self.ID)
	return nil
}

// Resync makes the background goroutine re-assert every entry of this node (a takeover's,
// once the new process serves), without the re-sync hooks: the entries never left Redis, so
// no publisher missed the node. A re-sync due for another reason keeps its hooks.
func (d *RedisDirectory) Resync() {
	d.mu.Lock()
	if !d.needSync {
		d.needSync, d.quietRe = true, true
		d.ops = nil // the re-sync writes the whole mirror
	}
	d.mu.Unlock()
	d.wake()
}
