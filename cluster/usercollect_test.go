package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// deadNodeWithUserConns writes node x, dead (entries, no heartbeat), whose users u0..u<n-1>
// each hold a key of x and one of live node b in their per-user set, and whose user "big"
// holds bigX keys of x among bigB of b.
func deadNodeWithUserConns(t *testing.T, raw rueidis.Client, users, bigX, bigB int) {
	t.Helper()
	cmds := rueidis.Commands{raw.B().Sadd().Key("pw:nodes").Member("x").Build()}
	add := func(user string, keys ...string) {
		cmds = append(cmds,
			raw.B().Sadd().Key("pw:n:{x}:u").Member(user).Build(),
			raw.B().Sadd().Key(keyUser("pw:", user)).Member("x").Build())
		if len(keys) == 0 {
			return
		}
		z := raw.B().Zadd().Key(KeyUserConns("pw:", user)).ScoreMember()
		for i, k := range keys {
			z = z.ScoreMember(float64(i), k)
		}
		cmds = append(cmds, z.Build())
	}
	for i := range users {
		add(fmt.Sprint("u", i), fmt.Sprintf("r%d.x", i), fmt.Sprintf("s%d.b", i))
	}
	var keys []string
	for i := range bigX + bigB { // interleaved, so every chunk holds some of each
		if i%2 == 0 && i/2 < bigX || i/2 >= bigB {
			keys = append(keys, fmt.Sprintf("k%d.x", i))
		} else {
			keys = append(keys, fmt.Sprintf("k%d.b", i))
		}
	}
	if len(keys) > 0 {
		add("big", keys...)
	}
	for _, r := range raw.DoMulti(bg, cmds...) {
		if err := r.Error(); err != nil {
			t.Fatal(err)
		}
	}
}

// collectWarm has janitor b collect a dead node without users, before node x is written, so that the script of
// its last step (gcfinal.go) is loaded in Redis and runs as one EVALSHA from then on.
func collectWarm(t *testing.T, raw rueidis.Client, b *RedisDirectory) {
	t.Helper()
	if err := raw.Do(bg, raw.B().Sadd().Key("pw:nodes").Member("w").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	b.collect()
}

// userConnsOf is user's per-user set.
func userConnsOf(t *testing.T, raw rueidis.Client, user string) []string {
	t.Helper()
	ks, err := raw.Do(bg, raw.B().Zrange().Key(KeyUserConns("pw:", user)).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// With the per-user policy on, the janitor takes a dead node's keys out of its users' sets by
// EVALSHA (never the script's body each call), a big set in chunks, and keeps the others'
// keys (review 7, finding 11).
func TestJanitorDropsUserConnsByEvalsha(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	const users, bigX, bigB = 300, 1500, 1200
	b := newTestDir(t, r, "b", time.Minute) // its own janitor runs a minute from now
	b.o.UserConns = true
	collectWarm(t, raw, b)
	deadNodeWithUserConns(t, raw, users, bigX, bigB)
	evals, shas := commandCalls(t, raw, "eval"), commandCalls(t, raw, "evalsha")
	b.collect()
	for _, i := range []int{0, users - 1} {
		if got := userConnsOf(t, raw, fmt.Sprint("u", i)); !slices.Equal(got, []string{fmt.Sprintf("s%d.b", i)}) {
			t.Errorf("u%d's keys after the janitor = %v; want only [s%d.b]", i, got, i)
		}
	}
	big := userConnsOf(t, raw, "big")
	nx := 0
	for _, k := range big {
		if strings.HasSuffix(k, ".x") {
			nx++
		}
	}
	if nx != 0 || len(big) != bigB {
		t.Errorf("big's keys after the janitor: %d of node x, %d in all; want 0 and %d (node b's)", nx, len(big), bigB)
	}
	if n := commandCalls(t, raw, "eval") - evals; n != 0 {
		t.Errorf("the janitor sent the script's body (EVAL) %d times; want 0 (EVALSHA)", n)
	}
	// One call per user, big's set of 2,700 in three chunks, and the last step's script.
	if n, want := commandCalls(t, raw, "evalsha")-shas, users+3+1; n != want {
		t.Errorf("the janitor ran scripts %d times; want %d (one per user, big's in chunks of %d, its last step)", n, want, dropNodeConnsChunk)
	}
}

// Without the per-user policy there are no per-user sets: the janitor runs no script for the
// dead node's users (review 7, finding 11: 1M users were 1M scripts that found nothing).
func TestJanitorRunsNoUserScriptWithoutPolicy(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	b := newTestDir(t, r, "b", time.Minute)
	collectWarm(t, raw, b)
	deadNodeWithUserConns(t, raw, 300, 0, 0)
	evals, shas := commandCalls(t, raw, "eval"), commandCalls(t, raw, "evalsha")
	b.collect()
	if n := commandCalls(t, raw, "eval") + commandCalls(t, raw, "evalsha") - evals - shas; n != 1 {
		t.Errorf("the janitor ran %d scripts with the policy off; want 1 (its last step, none on per-user sets)", n)
	}
	if ns, err := raw.Do(bg, raw.B().Smembers().Key(keyUser("pw:", "u7")).Build()).AsStrSlice(); err != nil || len(ns) != 0 {
		t.Errorf("u7's nodes after the janitor = %v, %v; want none (x's entries collected)", ns, err)
	}
}
