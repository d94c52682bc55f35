package cluster_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// TestUserPolicyStalledNodeCountedAgain: under oldest-out with N = 1, a
// user's stream on node b counts; b stops (SIGSTOP) until its heartbeat
// expires, so it is missing from the live nodes; a stream of the user
// starts on a, whose admission drops b's key as a dead node's (nothing is
// kicked: b may be dead). b continues and re-syncs with Redis: its stream
// is entered again in the user's count, so the user's next stream evicts
// both older ones, b's included — each gets the kicked packet and ends.
// Before, b's stream was never counted again: the next stream evicted only
// a's, and the user kept two streams under N = 1 for as long as b's lived.
func TestUserPolicyStalledNodeCountedAgain(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 2*time.Second, "--max-conns-per-user", "1", "--user-conn-policy", "oldest-out")
	a, b := cl.nodes[0], cl.nodes[1]
	const user = "stall7"
	onB := b.subscribe("user=" + user)
	ucKey := "pw:uc:" + user
	if n := redisInt(t, cl.redis.addr(), "ZCARD", ucKey); n != 1 {
		t.Fatalf("%s holds %d keys after b's stream started; want 1", ucKey, n)
	}

	synced := b.proc.expect(regexp.MustCompile(`redis directory in sync`))
	b.pause()
	waitUntil(t, 15*time.Second, "b's heartbeat gone (b missing from the live nodes)", func() (bool, string) {
		n := redisInt(t, cl.redis.addr(), "EXISTS", "pw:n:{b}")
		return n == 0, fmt.Sprintf("EXISTS pw:n:{b} = %d", n)
	})
	onA := a.subscribe("user=" + user) // drops b's key as a dead node's
	if n := redisInt(t, cl.redis.addr(), "ZCARD", ucKey); n != 1 {
		t.Fatalf("%s holds %d keys after a's stream started with b missing; want 1 (a's)", ucKey, n)
	}
	b.resume()
	b.proc.awaitLine(t, synced, "b re-synced with Redis")
	// The re-entry follows the re-sync on b's loops and router: wait for it
	// (without failing here: the kicks below say what a user sees).
	deadline := time.Now().Add(10 * time.Second)
	for redisInt(t, cl.redis.addr(), "ZCARD", ucKey) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	third := a.subscribe("user=" + user)
	defer third.conn.Close()
	onA.kicked()
	onB.kicked()
	if n := redisInt(t, cl.redis.addr(), "ZCARD", ucKey); n != 1 {
		t.Errorf("%s holds %d keys after the third stream; want 1 (its own)", ucKey, n)
	}
	a.mustPub("user/"+user, `"only"`, 1, 1, "Content-Type", "application/json")
	third.expect("user:"+user, `"only"`)
}

// redisInt runs one command on the Redis at addr and returns its integer
// reply.
func redisInt(t *testing.T, addr string, args ...string) int64 {
	t.Helper()
	r, err := redistest.Do(addr, args...)
	if err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
	n, err := strconv.ParseInt(r, 10, 64)
	if err != nil {
		t.Fatalf("redis %v: reply %q; want an integer", args, r)
	}
	return n
}
