package cluster

import (
	"context"

	"github.com/redis/rueidis"
)

// The janitor's last step on a dead node (collectNode, redisgc.go) deletes
// the node's own user and topic sets. Checked apart from the deletion, a
// node that came back in between (its heartbeat set again, its re-sync
// re-adding to those sets) lost them: its entries were in the directory but
// no longer listed as its own, so if it died later they were never
// collected. The check and the deletion are one script on the node's slot.

// dropSetsScript deletes KEYS[2] and KEYS[3] (the node's sets) unless its
// heartbeat KEYS[1] exists; 1 when it deleted them.
var dropSetsScript = rueidis.NewLuaScript(`if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
return 1`)

// dropNodeSets ends the collection of dead node id: its sets go, and it
// leaves the node list, unless it came back meanwhile.
func (d *RedisDirectory) dropNodeSets(c rueidis.Client, id string) error {
	p := d.o.Prefix
	ctx, cancel := d.opCtx(context.Background())
	n, err := dropSetsScript.Exec(ctx, c, []string{keyNode(p, id), keyNodeUsers(p, id), keyNodeTopics(p, id)}, nil).AsInt64()
	cancel()
	d.roundTrips.Add(1)
	d.commands.Add(1)
	if err != nil {
		return d.down(err)
	}
	if n == 0 {
		return nil // back meanwhile: its sets are its own again
	}
	return d.send(context.Background(), c, rueidis.Commands{
		c.B().Srem().Key(keyNodes(p)).Member(id).Build(),
		c.B().Del().Key(keyNodeGC(p, id)).Build(),
	})
}
