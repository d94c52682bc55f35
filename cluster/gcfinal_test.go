package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// comebackClient is a real client that runs comeback once, just before the
// first deletion (DEL or a script) naming key: the moment a collected node
// comes back, staged exactly.
type comebackClient struct {
	rueidis.Client
	key      string
	comeback func()
	once     sync.Once
}

func (c *comebackClient) before(cmds ...rueidis.Completed) {
	for _, cmd := range cmds {
		args := cmd.Commands()
		if (args[0] == "DEL" || args[0] == "EVAL" || args[0] == "EVALSHA") && slices.Contains(args, c.key) {
			c.once.Do(c.comeback)
		}
	}
}

func (c *comebackClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	c.before(cmd)
	return c.Client.Do(ctx, cmd)
}

func (c *comebackClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	c.before(cmds...)
	return c.Client.DoMulti(ctx, cmds...)
}

// TestCollectorKeepsSetsOfNodeBack: node b's janitor collects node a (its
// heartbeat gone); a comes back after the janitor's last heartbeat check
// and before its last step (its heartbeat set, its re-sync re-adding user
// u7 to its own set). a's own user set must still list u7 afterwards: if a
// dies later, that set is what the next janitor collects. The last step was
// a plain DEL of a's sets after the check, which wiped what a re-added.
func TestCollectorKeepsSetsOfNodeBack(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	b := newTestDir(t, r, "b", time.Minute)  // its own janitor runs a minute from now
	for _, cmd := range []rueidis.Completed{ // node a, dead: entries, no heartbeat
		raw.B().Sadd().Key("pw:nodes").Member("a").Build(),
		raw.B().Sadd().Key("pw:n:{a}:u").Member("u7").Build(),
		raw.B().Sadd().Key("pw:u:u7").Member("a").Build(),
	} {
		if err := raw.Do(bg, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := b.client()
	if err != nil {
		t.Fatal(err)
	}
	back := &comebackClient{Client: c, key: "pw:n:{a}:u", comeback: func() {
		for _, cmd := range []rueidis.Completed{ // a's heartbeat, then its re-sync
			raw.B().Set().Key("pw:n:{a}").Value("a.test:7946").Px(time.Minute).Build(),
			raw.B().Sadd().Key("pw:n:{a}:u").Member("u7").Build(),
			raw.B().Sadd().Key("pw:u:u7").Member("a").Build(),
		} {
			if err := raw.Do(bg, cmd).Error(); err != nil {
				t.Error(err)
			}
		}
	}}
	if err := b.collectNode(back, "a"); err != nil {
		t.Fatalf("collectNode(a) = %v", err)
	}
	if n, err := raw.Do(bg, raw.B().Sismember().Key("pw:n:{a}:u").Member("u7").Build()).AsInt64(); err != nil || n != 1 {
		t.Errorf("SISMEMBER pw:n:{a}:u u7 = %d, %v after the collection a came back during; want 1: a's own set keeps what it re-added", n, err)
	}
	if n, err := raw.Do(bg, raw.B().Sismember().Key("pw:nodes").Member("a").Build()).AsInt64(); err != nil || n != 1 {
		t.Errorf("SISMEMBER pw:nodes a = %d, %v; want 1 (a is back)", n, err)
	}
}
