package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/redis/rueidis"
)

// clusterMode fails the test unless d talks to Redis as a Redis Cluster client.
func clusterMode(t *testing.T, d *RedisDirectory) {
	t.Helper()
	c, err := d.client()
	if err != nil {
		t.Fatalf("directory %s has no client: %v", d.o.Self.ID, err)
	}
	if m := c.Mode(); m != rueidis.ClientModeCluster {
		t.Fatalf("directory %s with URL %q: rueidis mode %q; want %q", d.o.Self.ID, d.o.URL, m, rueidis.ClientModeCluster)
	}
}

// On a 3-shard Redis Cluster, registrations of conns, users and topics whose keys live on
// every shard land on the shard that owns them, every lookup answers as on one Redis, the
// mixed-slot pipelines (heartbeat, batches, resync, Close) raise no CROSSSLOT, and Close
// removes everything the node wrote.
func TestRedisClusterRegisterAndLookup(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	seeds := rc.Addrs()
	// Three spellings of one cluster: every seed comma separated, rueidis's addr=, one seed.
	a := newTestDirURL(t, rc.URL(), "a", 15*time.Second)
	b := newTestDirURL(t, "redis://"+seeds[1]+"?addr="+seeds[2], "b", 15*time.Second)
	c := newTestDirURL(t, "redis://"+seeds[2], "c", 15*time.Second)
	for _, d := range []*RedisDirectory{a, b, c} {
		clusterMode(t, d)
	}

	users := rc.OnEachShard("u", func(n string) string { return keyUser("pw:", n) })
	topics := rc.OnEachShard("t", func(n string) string { return keyTopic("pw:", n) })
	t.Logf("one per shard: users %q topics %q", users, topics)
	for i := range redistest.Shards {
		a.AddUser(users[i])
		a.AddTopic(topics[i])
	}
	b.AddUser(users[1])
	b.AddTopic(topics[2])
	for _, d := range []*RedisDirectory{a, b} {
		if err := d.Flush(bg); err != nil {
			t.Fatalf("Flush(%s) = %v; want nil", d.o.Self.ID, err)
		}
	}

	// Each entry is on the master that owns its slot, asked directly (no redirect followed).
	for i, addr := range seeds {
		for _, key := range []string{keyUser("pw:", users[i]), keyTopic("pw:", topics[i])} {
			if got, err := redistest.Do(addr, "SISMEMBER", key, "a"); got != "1" || err != nil {
				t.Errorf("shard %d (%s): SISMEMBER %s a = %q, %v; want 1", i, addr, key, got, err)
			}
		}
	}
	if n := rc.KeyCounts(); slices.Contains(n, 0) {
		t.Errorf("keys per shard %v; want every shard used", n)
	}

	for i := range redistest.Shards {
		wantU, wantT := []string{"a"}, []string{"a"}
		if i == 1 {
			wantU = []string{"a", "b"}
		}
		if i == 2 {
			wantT = []string{"a", "b"}
		}
		if ns, err := c.UserNodes(bg, users[i]); !slices.Equal(ns, wantU) || err != nil {
			t.Errorf("UserNodes(%s) = %v, %v; want %v, nil", users[i], ns, err, wantU)
		}
		if ns, err := c.TopicNodes(bg, topics[i]); !slices.Equal(ns, wantT) || err != nil {
			t.Errorf("TopicNodes(%s) = %v, %v; want %v, nil", topics[i], ns, err, wantT)
		}
	}
	nodes, err := c.Nodes(bg)
	want := []Node{{"a", "a.test:7946"}, {"b", "b.test:7946"}, {"c", "c.test:7946"}}
	if !slices.Equal(nodes, want) || err != nil {
		t.Errorf("Nodes = %v, %v; want %v, nil", nodes, err, want)
	}
	if addr, err := b.NodeAddr(bg, "c"); addr != "c.test:7946" || err != nil {
		t.Errorf("NodeAddr(c) = %q, %v; want c.test:7946, nil", addr, err)
	}

	// Close removes a's entries on every shard (one pipeline across all of them).
	if err := a.Close(); err != nil {
		t.Fatalf("a.Close() = %v; want nil", err)
	}
	for i, addr := range seeds {
		if got, err := redistest.Do(addr, "EXISTS", keyUser("pw:", users[i])); (got != "0") != (i == 1) || err != nil {
			t.Errorf("shard %d after a.Close: EXISTS %s = %q, %v; want 0 (1 on shard 1: b holds it too)", i, keyUser("pw:", users[i]), got, err)
		}
	}
	// a's own keys share the {a} slot, so one master answers for all of them.
	own := []string{keyNode("pw:", "a"), keyNodeUsers("pw:", "a"), keyNodeTopics("pw:", "a")}
	if got, err := redistest.Do(seeds[rc.Shard(own[0])], append([]string{"EXISTS"}, own...)...); got != "0" || err != nil {
		t.Errorf("after a.Close: EXISTS %q = %q, %v; want 0", own, got, err)
	}
	for i := range redistest.Shards {
		if ns, err := c.UserNodes(bg, users[i]); slices.Contains(ns, "a") || err != nil {
			t.Errorf("after a.Close: UserNodes(%s) = %v, %v; want no a", users[i], ns, err)
		}
	}
	for _, d := range []*RedisDirectory{a, b, c} {
		if s := d.Stats(); s.Errors != 0 {
			t.Errorf("directory %s: %d errors on the Redis Cluster; want 0 (%+v)", d.o.Self.ID, s.Errors, s)
		}
	}
}

// Batched writes on a Redis Cluster: each pipeline mixes keys of thousands of slots (topic and
// user index keys, this node's {a} sets); rueidis splits it per master, so none fails with
// CROSSSLOT, and every shard holds its part.
func TestRedisClusterBatchedRegistrations(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	a := newTestDirURL(t, rc.URL(), "a", 15*time.Second)
	const n = 5000
	before := a.Stats()
	for i := range n {
		a.AddTopic("topic-" + strconv.Itoa(i))
		a.AddUser("user-" + strconv.Itoa(i))
	}
	if err := a.Flush(bg); err != nil {
		t.Fatalf("Flush of %d registrations = %v; want nil", 2*n, err)
	}
	s := a.Stats()
	t.Logf("%d topics + %d users: %d commands in %d pipelines; keys per shard %v",
		n, n, s.Commands-before.Commands, s.RoundTrips-before.RoundTrips, rc.KeyCounts())
	if s.Errors != 0 {
		t.Errorf("%d errors writing batches to the Redis Cluster; want 0", s.Errors)
	}
	total := 0
	for i, k := range rc.KeyCounts() {
		if k < n/2 { // 2n index keys spread over 3 shards: about 2n/3 each
			t.Errorf("shard %d holds %d keys; want about %d", i, k, 2*n/3)
		}
		total += k
	}
	// 2n index keys, plus pw:nodes, pw:n:{a} and a's topic and user sets.
	if want := 2*n + 4; total != want {
		t.Errorf("%d keys on the cluster; want %d", total, want)
	}
	if got, err := redistest.Do(rc.Addrs()[rc.Shard(keyNodeTopics("pw:", "a"))], "SCARD", keyNodeTopics("pw:", "a")); got != strconv.Itoa(n) || err != nil {
		t.Errorf("SCARD %s = %q, %v; want %d", keyNodeTopics("pw:", "a"), got, err, n)
	}
}

// On a Redis Cluster, hot lookups of names on every shard are served by the client-side cache
// (no round trip, no command run by any master), and a change written by another directory
// reaches the cached copy on whichever shard it lives through that shard's invalidation.
func TestRedisClusterCacheHitsAndInvalidation(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	a := newTestDirURL(t, rc.URL(), "a", 15*time.Second)
	b := newTestDirURL(t, rc.URL(), "b", 15*time.Second)
	users := rc.OnEachShard("hot", func(n string) string { return keyUser("pw:", n) })
	topics := rc.OnEachShard("news", func(n string) string { return keyTopic("pw:", n) })
	gone := rc.OnEachShard("kh", func(n string) string { return keyUser("pw:", n) }) // users b leaves
	for i := range redistest.Shards {
		b.AddUser(users[i])
		b.AddTopic(topics[i])
		b.AddUser(gone[i])
	}
	if err := b.Flush(bg); err != nil {
		t.Fatal(err)
	}
	lookups := func() error {
		for i := range redistest.Shards {
			if ns, err := a.UserNodes(bg, users[i]); !slices.Equal(ns, []string{"b"}) || err != nil {
				return fmt.Errorf("UserNodes(%s) = %v, %v; want [b], nil", users[i], ns, err)
			}
			if ns, err := a.TopicNodes(bg, topics[i]); !slices.Equal(ns, []string{"b"}) || err != nil {
				return fmt.Errorf("TopicNodes(%s) = %v, %v; want [b], nil", topics[i], ns, err)
			}
			if ns, err := a.UserNodes(bg, gone[i]); !slices.Equal(ns, []string{"b"}) || err != nil {
				return fmt.Errorf("UserNodes(%s) = %v, %v; want [b], nil", gone[i], ns, err)
			}
		}
		return nil
	}
	if err := lookups(); err != nil { // fills the cache
		t.Fatal(err)
	}
	before, smembers, gets := a.Stats(), rc.CommandCalls("smembers"), rc.CommandCalls("get")
	const rounds = 300
	for range rounds {
		if err := lookups(); err != nil {
			t.Fatal(err)
		}
	}
	after := a.Stats()
	// Each round: 9 lookups reading 18 keys (the entry, then b's heartbeat key).
	const reads = rounds * 9 * 2
	// b's heartbeat (every TTL/3 = 5s) may invalidate a's copy of its node key once or twice.
	if d := after.RoundTrips - before.RoundTrips; d > 2 {
		t.Errorf("%d hot lookups over 3 shards cost %d round trips; want ≤ 2", rounds*9, d)
	}
	if d := after.CacheHits - before.CacheHits; d < reads-20 {
		t.Errorf("%d cached reads over 3 shards gave %d cache hits; want ≥ %d", reads, d, reads-20)
	}
	if d := rc.CommandCalls("smembers") - smembers; d > 0 {
		t.Errorf("the masters ran SMEMBERS %d times for cached lookups; want 0", d)
	}
	if d := rc.CommandCalls("get") - gets; d > 2 {
		t.Errorf("the masters ran GET %d times for cached lookups; want ≤ 2", d)
	}
	t.Logf("%d hot lookups over 3 shards: %d round trips, %d cache hits", rounds*9,
		after.RoundTrips-before.RoundTrips, after.CacheHits-before.CacheHits)

	// Another directory changes an entry on each shard: a's cached copies are invalidated.
	c := newTestDirURL(t, rc.URL(), "c", 15*time.Second)
	for i := range redistest.Shards {
		c.AddUser(users[i])
		c.AddTopic(topics[i])
	}
	b.RemoveUser(gone[0])
	for _, d := range []*RedisDirectory{b, c} {
		if err := d.Flush(bg); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 2*time.Second, func() string {
		for i := range redistest.Shards {
			if ns, err := a.UserNodes(bg, users[i]); !slices.Equal(ns, []string{"b", "c"}) || err != nil {
				return fmt.Sprintf("UserNodes(%s) on shard %d = %v, %v; want [b c], nil", users[i], i, ns, err)
			}
			if ns, err := a.TopicNodes(bg, topics[i]); !slices.Equal(ns, []string{"b", "c"}) || err != nil {
				return fmt.Sprintf("TopicNodes(%s) on shard %d = %v, %v; want [b c], nil", topics[i], i, ns, err)
			}
		}
		if ns, err := a.UserNodes(bg, gone[0]); len(ns) != 0 || err != nil {
			return fmt.Sprintf("UserNodes(%s) = %v, %v; want [], nil (removed by b)", gone[0], ns, err)
		}
		return ""
	})
	// The new values are cached in turn.
	hits := a.Stats().CacheHits
	if err := lookupsAfter(a, users, topics); err != nil {
		t.Fatal(err)
	}
	if a.Stats().CacheHits == hits {
		t.Errorf("lookups after invalidation gave no cache hits; want the refreshed entries cached")
	}
}

// lookupsAfter reads users and topics once more, each wanting [b c].
func lookupsAfter(d *RedisDirectory, users, topics []string) error {
	for i := range users {
		if ns, err := d.UserNodes(bg, users[i]); !slices.Equal(ns, []string{"b", "c"}) || err != nil {
			return fmt.Errorf("UserNodes(%s) = %v, %v; want [b c], nil", users[i], ns, err)
		}
		if ns, err := d.TopicNodes(bg, topics[i]); !slices.Equal(ns, []string{"b", "c"}) || err != nil {
			return fmt.Errorf("TopicNodes(%s) = %v, %v; want [b c], nil", topics[i], ns, err)
		}
	}
	return nil
}

// A node that dies on a Redis Cluster: readers drop it within its TTL, and a live node's
// janitor deletes its entries from every shard.
func TestRedisClusterNodeTTLExpiry(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	const ttl = time.Second
	a := newTestDirURL(t, rc.URL(), "a", ttl)
	b := newTestDirURL(t, rc.URL(), "b", ttl)
	users := rc.OnEachShard("u", func(n string) string { return keyUser("pw:", n) })
	topics := rc.OnEachShard("t", func(n string) string { return keyTopic("pw:", n) })
	for i := range redistest.Shards {
		a.AddUser(users[i])
		a.AddTopic(topics[i])
	}
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	a.crash()
	eventually(t, ttl+2*time.Second, func() string {
		for _, u := range users {
			if ns, err := b.UserNodes(bg, u); len(ns) != 0 || err != nil {
				return fmt.Sprintf("UserNodes(%s) = %v, %v; want [], nil after a died", u, ns, err)
			}
		}
		return ""
	})
	eventually(t, 5*ttl, func() string {
		for i, addr := range rc.Addrs() {
			for _, key := range []string{keyUser("pw:", users[i]), keyTopic("pw:", topics[i])} {
				if n, err := redistest.Do(addr, "EXISTS", key); n != "0" || err != nil {
					return fmt.Sprintf("shard %d: EXISTS %s = %q, %v; want 0 once a's entries are collected", i, key, n, err)
				}
			}
		}
		return ""
	})
}
