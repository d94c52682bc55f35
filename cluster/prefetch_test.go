package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestPrefetchOneRoundTrip: Prefetch reads many users' and topics' node sets
// in one round trip, and the lookups that follow are answered from the
// client-side cache (a batch publish to many users a node has not looked up
// lately used to cost one round trip per user under one deadline).
func TestPrefetchOneRoundTrip(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 15*time.Second)
	b := newTestDir(t, r, "b", 15*time.Second)
	const n = 200
	var users, topics []string
	for i := 0; i < n; i++ {
		users = append(users, fmt.Sprintf("pu%d", i))
		topics = append(topics, fmt.Sprintf("pt%d", i))
		b.AddUser(users[i])
		b.AddTopic(topics[i])
	}
	if err := b.Flush(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := a.NodeAddr(bg, "b"); err != nil { // b's node key cached, as after any earlier lookup
		t.Fatal(err)
	}
	before, smembers := a.Stats(), commandCalls(t, raw, "smembers")
	a.Prefetch(bg, users, topics)
	if d := a.Stats().RoundTrips - before.RoundTrips; d != 1 {
		t.Errorf("Prefetch of %d users and %d topics took %d round trips; want 1", n, n, d)
	}
	if d := commandCalls(t, raw, "smembers") - smembers; d != 2*n {
		t.Errorf("Prefetch ran SMEMBERS %d times; want %d", d, 2*n)
	}
	if st := a.Stats(); st.CacheHits != before.CacheHits || st.CacheMisses != before.CacheMisses {
		t.Errorf("Prefetch counted %d hits and %d misses; want none (its reads are not lookups; those that follow count)",
			st.CacheHits-before.CacheHits, st.CacheMisses-before.CacheMisses)
	}
	mid := a.Stats()
	for i := 0; i < n; i++ {
		if ns, err := a.UserNodes(bg, users[i]); !slices.Equal(ns, []string{"b"}) || err != nil {
			t.Fatalf("UserNodes(%s) = %v, %v; want [b]", users[i], ns, err)
		}
		if ns, err := a.TopicNodes(bg, topics[i]); !slices.Equal(ns, []string{"b"}) || err != nil {
			t.Fatalf("TopicNodes(%s) = %v, %v; want [b]", topics[i], ns, err)
		}
	}
	if d := a.Stats().RoundTrips - mid.RoundTrips; d > 2 { // a heartbeat of b may invalidate its node key
		t.Errorf("%d lookups after Prefetch took %d round trips; want ≤ 2 (from the cache)", 2*n, d)
	}
	if st := a.Stats(); st.CacheHits-mid.CacheHits+st.CacheMisses-mid.CacheMisses < 2*n {
		t.Errorf("%d lookups after Prefetch counted %d hits and %d misses; want one count each", 2*n,
			st.CacheHits-mid.CacheHits, st.CacheMisses-mid.CacheMisses)
	}
}
