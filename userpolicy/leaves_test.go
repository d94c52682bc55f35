package userpolicy

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/redis/rueidis"
)

// roundTrips counts the requests that reached Redis (cluster.Observer).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) RedisCommand(time.Duration) { r.n.Add(1) }

// leavesNode is the part of a Policy the Leave queue uses: a Redis user count on a
// redis-server of its own, with users u0..u<n-1> each holding a key of a stream that ended
// ("k<i>.a") and one of a live one ("l<i>.b"), and their Leaves queued.
func leavesNode(tb testing.TB, users int) (*Policy, rueidis.Client, *roundTrips) {
	tb.Helper()
	addr := redistest.Single(tb)
	rt := &roundTrips{}
	conn, err := redisconn.New(redisconn.Options{URL: "redis://" + addr, OpTimeout: 5 * time.Second, Observer: rt})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(raw.Close)
	p := &Policy{users: admit.NewUserConnsRedis(conn, "")}
	fillLeaves(tb, p, raw, users)
	return p, raw, rt
}

func fillLeaves(tb testing.TB, p *Policy, raw rueidis.Client, users int) {
	tb.Helper()
	cmds := make(rueidis.Commands, 0, users)
	for i := range users {
		cmds = append(cmds, raw.B().Zadd().Key(cluster.KeyUserConns("pw:", fmt.Sprint("u", i))).ScoreMember().
			ScoreMember(1, fmt.Sprintf("k%d.a", i)).ScoreMember(2, fmt.Sprintf("l%d.b", i)).Build())
	}
	for _, r := range raw.DoMulti(context.Background(), cmds...) {
		if err := r.Error(); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range users {
		p.queueLeave(fmt.Sprint("u", i), fmt.Sprintf("k%d.a", i))
	}
}

// A mass disconnect's Leaves go in pipelines of leaveBatch users (review 7, finding 10), not
// one round trip each, and take out exactly the keys that left.
func TestLeavesPipelined(t *testing.T) {
	const users = 3000
	p, raw, rt := leavesNode(t, users)
	before := rt.n.Load()
	if !p.sendLeaves(time.Time{}) {
		t.Fatal("sendLeaves = false; want true (Redis is up)")
	}
	want := int64((users + leaveBatch - 1) / leaveBatch)
	if got := rt.n.Load() - before; got > want {
		t.Errorf("the Leaves of %d users took %d round trips to Redis; want at most %d (pipelines of %d)", users, got, want, leaveBatch)
	}
	for _, i := range []int{0, users / 2, users - 1} {
		ks, err := raw.Do(context.Background(), raw.B().Zrange().Key(cluster.KeyUserConns("pw:", fmt.Sprint("u", i))).Min("0").Max("-1").Build()).AsStrSlice()
		if err != nil || len(ks) != 1 || ks[0] != fmt.Sprintf("l%d.b", i) {
			t.Errorf("u%d's keys after its Leave = %v, %v; want [l%d.b]", i, ks, err, i)
		}
	}
	if p.leaves.n != 0 {
		t.Errorf("%d keys still pending after a successful pass; want 0", p.leaves.n)
	}
}

// The last pass at Close stops at its deadline (stopLeavesFor), keeping what it did not send
// pending (then dropped with the queue): Close does not wait on a slow Redis for all of them.
func TestLeavesStopAtDeadline(t *testing.T) {
	const users = 1000
	p, _, rt := leavesNode(t, users)
	before := rt.n.Load()
	if p.sendLeaves(time.Now()) {
		t.Fatal("sendLeaves past its deadline = true; want false")
	}
	if got := rt.n.Load() - before; got != 0 {
		t.Errorf("sendLeaves past its deadline made %d round trips; want 0", got)
	}
	if p.leaves.n != users {
		t.Errorf("%d keys pending after a pass past its deadline; want %d", p.leaves.n, users)
	}
}

// BenchmarkSendLeaves: the Leaves of 20,000 users whose streams ended at once (a mass
// disconnect), on a loopback redis-server. ns/op is the whole pass; ns/user = ns/op / 20,000.
//
//	go test -run '^$' -bench SendLeaves -benchtime 5x -count 3 ./userpolicy
func BenchmarkSendLeaves(b *testing.B) {
	const users = 20000
	p, raw, _ := leavesNode(b, users)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			fillLeaves(b, p, raw, users)
			b.StartTimer()
		}
		if !p.sendLeaves(time.Time{}) {
			b.Fatal("sendLeaves failed")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*users), "ns/user")
}
