package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"
)

var bg = context.Background()

func TestRedisRegisterAndLookup(t *testing.T) {
	r := startRedis(t)
	a := newTestDir(t, r, "a", 15*time.Second)
	b := newTestDir(t, r, "b", 15*time.Second)
	a.AddUser("u")
	a.AddTopic("news")
	b.AddUser("u")
	b.AddTopic("gone")
	b.RemoveTopic("gone")
	for _, d := range []*RedisDirectory{a, b} {
		if err := d.Flush(bg); err != nil {
			t.Fatalf("Flush = %v; want nil", err)
		}
	}
	if ns, err := a.TopicNodes(bg, "gone"); len(ns) != 0 || err != nil {
		t.Errorf("TopicNodes(gone) = %v, %v; want [], nil (removed)", ns, err)
	}
	if ns, err := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a", "b"}) || err != nil {
		t.Errorf("UserNodes(u) = %v, %v; want [a b], nil", ns, err)
	}
	if ns, err := b.TopicNodes(bg, "news"); !slices.Equal(ns, []string{"a"}) || err != nil {
		t.Errorf("TopicNodes(news) = %v, %v; want [a], nil", ns, err)
	}
	if ns, err := b.TopicNodes(bg, "none"); len(ns) != 0 || err != nil {
		t.Errorf("TopicNodes(none) = %v, %v; want [], nil", ns, err)
	}
	if addr, err := a.NodeAddr(bg, "b"); addr != "b.test:7946" || err != nil {
		t.Errorf("NodeAddr(b) = %q, %v; want b.test:7946, nil", addr, err)
	}
	if _, err := a.NodeAddr(bg, "zz"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("NodeAddr(zz) err = %v; want ErrUnknownNode", err)
	}
	nodes, err := a.Nodes(bg)
	if want := []Node{{"a", "a.test:7946"}, {"b", "b.test:7946"}}; !slices.Equal(nodes, want) || err != nil {
		t.Errorf("Nodes = %v, %v; want %v, nil", nodes, err, want)
	}
	// Close removes the node's entries.
	b.Close()
	if ns, err := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a"}) || err != nil {
		t.Errorf("after b.Close: UserNodes(u) = %v, %v; want [a], nil", ns, err)
	}
}

// A hot lookup costs one round trip, then none; a change is seen through invalidation.
func TestRedisCacheHitsAndInvalidation(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 15*time.Second)
	b := newTestDir(t, r, "b", 15*time.Second)
	b.AddUser("hot")
	b.AddTopic("kh")
	if err := b.Flush(bg); err != nil {
		t.Fatal(err)
	}
	if ns, err := a.UserNodes(bg, "hot"); !slices.Equal(ns, []string{"b"}) || err != nil {
		t.Fatalf("UserNodes(hot) = %v, %v; want [b], nil", ns, err)
	}
	if _, err := a.TopicNodes(bg, "kh"); err != nil {
		t.Fatal(err)
	}
	before, smembers, gets := a.Stats(), commandCalls(t, raw, "smembers"), commandCalls(t, raw, "get")
	for i := 0; i < 1000; i++ {
		if ns, err := a.UserNodes(bg, "hot"); len(ns) != 1 || err != nil {
			t.Fatalf("UserNodes(hot) = %v, %v", ns, err)
		}
		if ns, err := a.TopicNodes(bg, "kh"); !slices.Equal(ns, []string{"b"}) || err != nil {
			t.Fatalf("TopicNodes(kh) = %v, %v", ns, err)
		}
	}
	after := a.Stats()
	if d := after.RoundTrips - before.RoundTrips; d > 2 { // a heartbeat of b may invalidate its node key once
		t.Errorf("2000 hot lookups cost %d round trips; want ≤ 2", d)
	}
	if d := after.CacheHits - before.CacheHits; d < 3900 {
		t.Errorf("2000 hot lookups (4000 cached reads) gave %d cache hits; want ≥ 3900", d)
	}
	if d := commandCalls(t, raw, "smembers") - smembers; d > 0 {
		t.Errorf("Redis ran SMEMBERS %d times for cached lookups; want 0", d)
	}
	if d := commandCalls(t, raw, "get") - gets; d > 2 {
		t.Errorf("Redis ran GET %d times for cached lookups; want ≤ 2", d)
	}
	t.Logf("2000 hot lookups: %d round trips, %d cache hits", after.RoundTrips-before.RoundTrips, after.CacheHits-before.CacheHits)

	// A change made by another node invalidates a's cached entry.
	c := newTestDir(t, r, "c", 15*time.Second)
	c.AddUser("hot")
	if err := c.Flush(bg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() string {
		ns, err := a.UserNodes(bg, "hot")
		if !slices.Equal(ns, []string{"b", "c"}) || err != nil {
			return fmt.Sprintf("UserNodes(hot) = %v, %v; want [b c], nil", ns, err)
		}
		return ""
	})
}

// A node that stops heartbeating disappears from reads within its TTL; the janitor of a live
// node then deletes its entries.
func TestRedisNodeTTLExpiry(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	const ttl = time.Second
	a := newTestDir(t, r, "a", ttl)
	b := newTestDir(t, r, "b", ttl)
	a.AddUser("u")
	a.AddTopic("t")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	if ns, _ := b.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a"}) {
		t.Fatalf("UserNodes(u) = %v; want [a]", ns)
	}
	a.crash()
	died := time.Now()
	eventually(t, ttl+time.Second, func() string {
		if ns, err := b.UserNodes(bg, "u"); len(ns) != 0 || err != nil {
			return fmt.Sprintf("UserNodes(u) = %v, %v; want [], nil after a died", ns, err)
		}
		return ""
	})
	t.Logf("dead node ignored %v after its last heartbeat could run", time.Since(died))
	if ns, err := b.TopicNodes(bg, "t"); len(ns) != 0 || err != nil {
		t.Errorf("TopicNodes(t) = %v, %v; want [], nil after a died", ns, err)
	}
	if _, err := b.NodeAddr(bg, "a"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("NodeAddr(a) err = %v; want ErrUnknownNode", err)
	}
	if ns, _ := b.Nodes(bg); len(ns) != 1 || ns[0].ID != "b" {
		t.Errorf("Nodes = %v; want only b", ns)
	}
	eventually(t, 4*ttl, func() string {
		n, err := raw.Do(bg, raw.B().Exists().Key("pw:u:u", "pw:t:t", "pw:n:{a}:u", "pw:n:{a}:t").Build()).AsInt64()
		if n != 0 || err != nil {
			return fmt.Sprintf("dead node keys still present: EXISTS = %d, %v", n, err)
		}
		return ""
	})
}

// Redis stops and comes back empty: calls fail fast meanwhile, then the directory re-registers
// and re-asserts its entries by itself, and no lookup is answered from a pre-restart cache.
func TestRedisRestart(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 3*time.Second)
	b := newTestDir(t, r, "b", 3*time.Second)
	a.AddTopic("ka")
	a.AddUser("u")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	// kx is written behind the directories' backs, so nobody re-asserts it after the restart.
	if err := raw.Do(bg, raw.B().Sadd().Key("pw:t:kx").Member("a").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if ns, err := b.TopicNodes(bg, "kx"); !slices.Equal(ns, []string{"a"}) || err != nil {
			t.Fatalf("TopicNodes(kx) = %v, %v; want [a]", ns, err)
		}
	}
	if s := b.Stats(); s.CacheHits == 0 {
		t.Fatalf("kx not served from cache before the restart: %+v", s)
	}

	r.stop()
	// Until rueidis reads EOF on its connection (microseconds on loopback) a cached answer
	// is still served: it was valid when Redis died. After that, calls fail, fast.
	eventually(t, 2*time.Second, func() string {
		if _, err := b.TopicNodes(bg, "kx"); !errors.Is(err, ErrDirectoryDown) {
			return fmt.Sprintf("TopicNodes with Redis down = %v; want ErrDirectoryDown", err)
		}
		return ""
	})
	start := time.Now()
	if _, err := b.UserNodes(bg, "u"); !errors.Is(err, ErrDirectoryDown) {
		t.Errorf("UserNodes with Redis down = %v; want ErrDirectoryDown", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("UserNodes with Redis down took %v; want < 1s", el)
	}
	a.AddUser("u2") // while down: kept in the mirror, asserted on recovery
	a.RemoveUser("u")
	if err := a.Flush(bg); !errors.Is(err, ErrDirectoryDown) {
		t.Errorf("Flush with Redis down = %v; want ErrDirectoryDown", err)
	}

	r.start()
	raw = r.raw()
	if err := raw.Do(bg, raw.B().Sadd().Key("pw:t:kx").Member("b").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if ns, err := b.UserNodes(bg, "u2"); !slices.Equal(ns, []string{"a"}) || err != nil {
			return fmt.Sprintf("UserNodes(u2) = %v, %v; want [a] after recovery", ns, err)
		}
		if ns, err := b.Nodes(bg); len(ns) != 2 || err != nil {
			return fmt.Sprintf("Nodes = %v, %v; want a and b re-registered", ns, err)
		}
		return ""
	})
	if ns, err := b.TopicNodes(bg, "kx"); !slices.Equal(ns, []string{"b"}) || err != nil {
		t.Errorf("TopicNodes(kx) after restart = %v, %v; want [b] (the pre-restart cached [a] is stale)", ns, err)
	}
	if ns, err := b.TopicNodes(bg, "ka"); !slices.Equal(ns, []string{"a"}) || err != nil {
		t.Errorf("TopicNodes(ka) after restart = %v, %v; want [a] (re-asserted)", ns, err)
	}
	if ns, _ := b.UserNodes(bg, "u"); len(ns) != 0 {
		t.Errorf("UserNodes(u) after restart = %v; want [] (removed while down)", ns)
	}
	if s := a.Stats(); s.Resyncs < 2 {
		t.Errorf("a.Stats().Resyncs = %d; want ≥ 2 (start + recovery)", s.Resyncs)
	}
}

// 15,000 arrivals cost a handful of pipelines, not 15,000 round trips.
func TestRedisBatchedRegistrations(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 15*time.Second)
	before := a.Stats()
	start := time.Now()
	for i := 0; i < 15000; i++ {
		a.AddTopic("topic-" + strconv.Itoa(i))
		a.AddUser("user-" + strconv.Itoa(i))
	}
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	s := a.Stats()
	rt := s.RoundTrips - before.RoundTrips
	t.Logf("15000 topics + 15000 users: %d commands in %d round trips, %v", s.Commands-before.Commands, rt, el)
	if rt > 100 {
		t.Errorf("15000 registrations cost %d round trips; want ≤ 100", rt)
	}
	n, err := raw.Do(bg, raw.B().Scard().Key("pw:n:{a}:t").Build()).AsInt64()
	if n != 15000 || err != nil {
		t.Errorf("SCARD pw:n:{a}:t = %d, %v; want 15000", n, err)
	}
	if ns, err := a.TopicNodes(bg, "topic-14999"); !slices.Equal(ns, []string{"a"}) || err != nil {
		t.Errorf("TopicNodes(topic-14999) = %v, %v; want [a]", ns, err)
	}
}

// A new incarnation of a node id drops what the previous one left behind.
func TestRedisRestartedNodeDropsOldEntries(t *testing.T) {
	r := startRedis(t)
	a := newTestDir(t, r, "a", 15*time.Second)
	a.AddUser("old")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	a.crash()
	a2 := newTestDir(t, r, "a", 15*time.Second)
	if ns, _ := a2.UserNodes(bg, "old"); len(ns) != 0 {
		t.Errorf("UserNodes(old) after restart of a = %v; want []", ns)
	}
}

// TestLookupRetryWithRedisGone: lookups that read several cached keys at once
// (the live addresses of a user's two nodes) while Redis goes away. The first
// attempt meets the broken connection and the one retry resends the same
// commands, which must therefore be pinned (rueidis recycles a command once
// sent; unpinned, the retry panicked in DoMultiCache). Every lookup must
// answer, right or with ErrDirectoryDown, and never panic.
func TestLookupRetryWithRedisGone(t *testing.T) {
	for round := range 15 {
		r := startRedis(t)
		a := newTestDir(t, r, "a", 15*time.Second)
		b := newTestDir(t, r, "b", 15*time.Second)
		a.AddUser("ru")
		b.AddUser("ru")
		for _, d := range []*RedisDirectory{a, b} {
			if err := d.Flush(bg); err != nil {
				t.Fatal(err)
			}
		}
		stop := make(chan struct{})
		done := make(chan error)
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				nodes, err := b.UserNodes(bg, "ru")
				if err == nil && len(nodes) != 2 {
					done <- fmt.Errorf("UserNodes(ru) = %v; want a and b", nodes)
					return
				}
				if err != nil && !errors.Is(err, ErrDirectoryDown) {
					done <- fmt.Errorf("UserNodes(ru) = %v; want ErrDirectoryDown", err)
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		r.stop()
		time.Sleep(50 * time.Millisecond)
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// TestRedisResyncHooks: after Redis restarts empty, the directory calls
// BeforeResync while its entries are still missing and AfterResync(true) once
// they are written again — and notices the restart from its connection's end,
// not from its next heartbeat (the node TTL here puts that 20 s away).
func TestRedisResyncHooks(t *testing.T) {
	r := startRedis(t)
	events := make(chan string, 16)
	present := func() bool {
		raw := r.raw()
		defer raw.Close()
		n, err := raw.Do(bg, raw.B().Sismember().Key("pw:u:hooked").Member("a").Build()).AsInt64()
		return err == nil && n == 1
	}
	d, err := NewRedisDirectory(RedisOptions{
		URL: r.url(), Self: Node{ID: "a", Addr: "a.test:7946"}, NodeTTL: time.Minute, OpTimeout: 500 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
		BeforeResync: func() { events <- fmt.Sprintf("before registered=%v", present()) },
		AfterResync:  func(ok bool) { events <- fmt.Sprintf("after ok=%v registered=%v", ok, present()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	next := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("hook event %q; want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no hook event within 10s (the heartbeat is 20s away); want %q", want)
		}
	}
	next("before registered=false") // the first registration is a re-sync too
	next("after ok=true registered=false")
	d.AddUser("hooked")
	if err := d.Flush(bg); err != nil {
		t.Fatal(err)
	}
	r.stop()
	r.start()
	for {
		got := <-events // failed attempts while Redis was down come first
		if got == "after ok=false registered=false" {
			continue
		}
		if got != "before registered=false" {
			t.Fatalf("hook event %q; want the re-sync to start with the entry missing", got)
		}
		break
	}
	next("after ok=true registered=true")
}
