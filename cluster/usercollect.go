package cluster

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// A dead node's streams leave their keys in the per-user connection sets
// (pw:uc:<user>, admit/userconns.go) when their Leaves never ran: the node was
// killed, or its Leaves were dropped. The admission script drops keys of
// dead nodes only when that user subscribes again, so the keys of users who
// never come back stayed for good. The janitor (redisgc.go) therefore takes
// the dead node's keys out of the sets of the users its user set names, page
// by page with the rest of its entries — only where the sets exist, with the
// per-user policy on (RedisOptions.UserConns): without it every call would
// find nothing.
//
// The script is sent by its SHA-1 (EVALSHA: 40 bytes, not its body, per
// user; loaded on every Redis node once per dead node collected), and reads
// a user's set dropNodeConnsChunk keys a call: a set of a "user" holding many
// keys (a shared device id, stale keys) is walked in several short scripts,
// not one that holds Redis for the whole set.

// dropNodeConnsChunk is the most keys one call of the script reads.
const dropNodeConnsChunk = 1000

// dropNodeConnsScript removes from the sorted set KEYS[1], among its keys from
// rank ARGV[2] on (dropNodeConnsChunk of them: the 999 and 1000 below), those
// of node ARGV[1] (a key's node is what follows its last '.'). It answers the
// rank the next call starts at, or -1 when the set has no more keys.
const dropNodeConnsScript = `
local from = tonumber(ARGV[2])
local ms = redis.call('ZRANGE', KEYS[1], from, from + 999)
local gone = {}
for _, m in ipairs(ms) do
  if string.match(m, '%.([^.]+)$') == ARGV[1] then
    gone[#gone + 1] = m
  end
end
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
end
if #ms < 1000 then
  return -1
end
return from + #ms - #gone`

// dropNodeConnsSHA is the script's SHA-1, as Redis names it.
var dropNodeConnsSHA = func() string {
	h := sha1.Sum([]byte(dropNodeConnsScript))
	return hex.EncodeToString(h[:])
}()

// loadDropNodeConns loads the script on every Redis node (SCRIPT LOAD), so
// that EVALSHA finds it.
func (d *RedisDirectory) loadDropNodeConns(c rueidis.Client) error {
	for _, n := range c.Nodes() {
		ctx, cancel := d.opCtx(context.Background())
		sha, err := n.Do(ctx, n.B().ScriptLoad().Script(dropNodeConnsScript).Build()).ToString()
		cancel()
		d.roundTrips.Add(1)
		if err != nil {
			return d.down(err)
		}
		if sha != dropNodeConnsSHA {
			return fmt.Errorf("cluster: redis names the janitor's script %s, not %s", sha, dropNodeConnsSHA)
		}
	}
	return nil
}

// dropNodeConnsCmd removes node id's conn keys from user's set, from rank from on.
func dropNodeConnsCmd(c rueidis.Client, p, user, id string, from int64) rueidis.Completed {
	return c.B().Evalsha().Sha1(dropNodeConnsSHA).Numkeys(1).Key(KeyUserConns(p, user)).Arg(id, strconv.FormatInt(from, 10)).Build()
}

// dropNodeConns removes node id's conn keys from the sets of users, one
// pipeline a round, again for the sets that had more than a chunk.
func (d *RedisDirectory) dropNodeConns(c rueidis.Client, id string, users []string) error {
	p := d.o.Prefix
	from := make([]int64, len(users))
	for len(users) > 0 {
		cmds := make(rueidis.Commands, len(users))
		for i, u := range users {
			cmds[i] = dropNodeConnsCmd(c, p, u, id, from[i])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*d.o.OpTimeout+time.Duration(len(cmds))*10*time.Microsecond)
		rs := c.DoMulti(ctx, cmds...)
		cancel()
		d.roundTrips.Add(1)
		d.commands.Add(uint64(len(cmds)))
		more := 0
		for i, r := range rs {
			next, err := r.AsInt64()
			if err != nil {
				return d.down(err)
			}
			if next >= 0 {
				users[more], from[more] = users[i], next
				more++
			}
		}
		users, from = users[:more], from[:more]
	}
	return nil
}
