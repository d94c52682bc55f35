package cluster

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// countingObserver counts what it is told.
type countingObserver struct {
	rtts, queued, redis atomic.Int64
	maxQueued           atomic.Int64
}

func (o *countingObserver) LinkRoundTrip(d time.Duration) {
	if d > 0 {
		o.rtts.Add(1)
	}
}

func (o *countingObserver) LinkQueued(n int) {
	o.queued.Add(1)
	for {
		m := o.maxQueued.Load()
		if int64(n) <= m || o.maxQueued.CompareAndSwap(m, int64(n)) {
			return
		}
	}
}

func (o *countingObserver) RedisCommand(d time.Duration) {
	if d > 0 {
		o.redis.Add(1)
	}
}

// A link tells its Observer one round trip and one queue depth per call
// that was answered; a call that failed is no round trip.
func TestObserverLinks(t *testing.T) {
	store := NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	var obs countingObserver
	a := newLinks(t, store, "a", LinkOptions{Observer: &obs})
	for i := 0; i < 100; i++ {
		if _, err := a.Forward(bg, "b", &Push{ID: strconv.Itoa(i), To: "user:1"}); err != nil {
			t.Fatal(err)
		}
	}
	ps := make([]*Push, 10)
	for i := range ps {
		ps[i] = &Push{ID: strconv.Itoa(100 + i), To: "user:1"}
	}
	if _, err := a.ForwardBatch(bg, "b", ps); err != nil {
		t.Fatal(err)
	}
	if r, q := obs.rtts.Load(), obs.queued.Load(); r != 101 || q != 101 {
		t.Errorf("101 answered calls: %d round trips, %d queue depths observed; want 101 each", r, q)
	}
	if m := obs.maxQueued.Load(); m < 10 {
		t.Errorf("largest queue depth observed %d; want at least the batch's 10", m)
	}
	if _, err := a.Forward(bg, "nobody", &Push{ID: "x", To: "user:1"}); err == nil {
		t.Fatal("Forward to an unknown node succeeded")
	}
	if r := obs.rtts.Load(); r != 101 {
		t.Errorf("a failed call was observed as a round trip: %d", r)
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

// The message store times each of its requests: a Put, a Pending, an Ack.
func TestObserverRedisStore(t *testing.T) {
	r := startRedis(t)
	var obs countingObserver
	s, err := NewRedisConn(RedisConnOptions{URL: r.url(), Logger: slog.New(slog.DiscardHandler), Observer: &obs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The QoS store and idempotency keys reach Redis only through Do and
	// DoMulti: each request they send is one observation.
	steps := []func() error{
		func() error {
			_, err := s.Do(bg, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
				return c.Do(ctx, c.B().Set().Key("pw:test").Value("1").Build())
			})
			return err
		},
		func() error {
			_, err := s.DoMulti(bg, func(c rueidis.Client) rueidis.Commands {
				return rueidis.Commands{c.B().Get().Key("pw:test").Build(), c.B().Del().Key("pw:test").Build()}
			})
			return err
		},
	}
	for i, step := range steps {
		before := obs.redis.Load()
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if obs.redis.Load() == before {
			t.Errorf("step %d went to Redis; no request observed", i)
		}
	}
}
