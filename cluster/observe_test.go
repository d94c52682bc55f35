package cluster

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// countingObserver counts what it is told.
type countingObserver struct {
	redis atomic.Int64
}

func (o *countingObserver) RedisCommand(d time.Duration) {
	if d > 0 {
		o.redis.Add(1)
	}
}

// The directory times each request that went to Redis, not the reads the
// client-side cache answered.
func TestObserverRedisDirectory(t *testing.T) {
	r := startRedis(t)
	b := newTestDir(t, r, "b", 15*time.Second)
	b.AddUser("hot")
	if err := b.Flush(bg); err != nil {
		t.Fatal(err)
	}
	var obs countingObserver
	a, err := NewRedisDirectory(RedisOptions{URL: r.url(), Self: Node{ID: "a", Addr: "a.test:7946"},
		NodeTTL: 15 * time.Second, Logger: slog.New(slog.DiscardHandler), Observer: &obs})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(bg); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	started := obs.redis.Load()
	if started == 0 {
		t.Error("Start registered the node in Redis; no request observed")
	}
	if ns, err := a.UserNodes(bg, "hot"); len(ns) != 1 || err != nil {
		t.Fatalf("UserNodes(hot) = %v, %v", ns, err)
	}
	first := obs.redis.Load()
	if first == started {
		t.Error("the first UserNodes read Redis; no request observed")
	}
	hits := a.Stats().CacheHits
	for i := 0; i < 1000; i++ {
		if _, err := a.UserNodes(bg, "hot"); err != nil {
			t.Fatal(err)
		}
	}
	if a.Stats().CacheHits-hits < 1900 {
		t.Fatalf("1000 hot lookups: %d cache hits; the cache did not answer them", a.Stats().CacheHits-hits)
	}
	// A heartbeat or an invalidated node key may reach Redis meanwhile.
	if d := obs.redis.Load() - first; d > 4 {
		t.Errorf("1000 cached lookups observed %d Redis requests; want ≤ 4", d)
	}
}
