package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// The janitor's mark (pw:n:{id}:cut, redisgc.go) tells a node that came back
// that entries of its were removed: its heartbeat reads it (GET, never
// GETDEL: a heartbeat whose answer is lost to a timeout must not consume
// it) and the node takes it only once its re-sync is done, and only if no
// janitor wrote it again meanwhile. Each page a janitor removes writes a new
// value, so a mark rewritten during the re-sync survives the take.

// cutMarkValue is a mark no earlier page wrote: the janitor's id and the time.
func (d *RedisDirectory) cutMarkValue() string {
	return d.o.Self.ID + ":" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// cutTakeScript deletes the mark if it still holds the value the heartbeat read.
var cutTakeScript = rueidis.NewLuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// takeCutMark deletes the mark read as mark after a successful re-sync; a
// failure leaves it for the next heartbeat, which re-syncs once more.
func (d *RedisDirectory) takeCutMark(c rueidis.Client, mark string) {
	ctx, cancel := d.opCtx(context.Background())
	_ = cutTakeScript.Exec(ctx, c, []string{keyNodeCut(d.o.Prefix, d.o.Self.ID)}, []string{mark}).Error()
	cancel()
	d.roundTrips.Add(1)
	d.commands.Add(1)
}
