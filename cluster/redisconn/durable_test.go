package redisconn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/redis/rueidis"
)

// --redis's wait_replicas and wait_timeout, and the bad values refused.
func TestRedisURLWait(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url      string
		replicas int
		timeout  time.Duration
		err      string
	}{
		{url: "redis://h:1", timeout: 500 * time.Millisecond},
		{url: "redis://h:1?wait_replicas=1", replicas: 1, timeout: 500 * time.Millisecond},
		{url: "redis-sentinel://s1,s2/m?wait_replicas=2&wait_timeout=100ms", replicas: 2, timeout: 100 * time.Millisecond},
		{url: "redis://h1:1,h2:2?wait_replicas=1&wait_timeout=20ms#x", replicas: 1, timeout: 20 * time.Millisecond},
		{url: "redis://h:1?wait_replicas=-1", err: `wait_replicas="-1"`},
		{url: "redis://h:1?wait_replicas=one", err: `wait_replicas="one"`},
		{url: "redis://h:1?wait_timeout=1s", err: `wait_timeout="1s"`},
		{url: "redis://h:1?wait_timeout=0s", err: `wait_timeout="0s"`},
		{url: "redis://h:1?wait_timeout=%zz", err: "query"},
	}
	for _, c := range cases {
		conn, err := New(Options{URL: c.url, OpTimeout: time.Second})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), "redis url") || !strings.Contains(err.Error(), c.err) {
				t.Errorf("New(%q) = %v; want an error naming the redis url and %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || conn.dur.replicas != c.replicas || conn.dur.timeout != c.timeout {
			t.Errorf("New(%q) = %+v, %v; want replicas %d timeout %v", c.url, conn, err, c.replicas, c.timeout)
		}
	}
}

// zadd is a DoDurable write: member n into key.
func zadd(key string, n int) func(c rueidis.Client) rueidis.Completed {
	return func(c rueidis.Client) rueidis.Completed {
		return c.B().Zadd().Key(key).ScoreMember().ScoreMember(0, strconv.Itoa(n)).Build()
	}
}

// DoDurable with wait_replicas=1 answers once the replica has the write, and
// fails (ErrDown, too few replicas) on a primary without one, the
// write being on the primary all the same.
func TestRedisConnDoDurable(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, 0) // a primary and its replica; no failover
	conn, err := New(Options{URL: "redis://" + sn.Primary() + "?wait_replicas=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 50 {
		r, err := conn.DoDurable(context.Background(), "pw:q:d", zadd("pw:q:d", i))
		if n, err2 := r.AsInt64(); err != nil || err2 != nil || n != 1 {
			t.Fatalf("DoDurable ZADD %d with a replica = %d, %v, %v; want 1 added", i, n, err, err2)
		}
	}
	// Every write was acknowledged by the replica before DoDurable returned.
	if n, err := redistest.Do(sn.ReplicaAddr(), "ZCARD", "pw:q:d"); n != "50" || err != nil {
		t.Errorf("ZCARD pw:q:d on the replica = %q, %v; want 50", n, err)
	}

	alone := redistest.Single(t)
	conn2, err := New(Options{URL: "redis://" + alone + "?wait_replicas=1&wait_timeout=50ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_, err = conn2.DoDurable(context.Background(), "pw:q:d", zadd("pw:q:d", 1))
	if !errors.Is(err, ErrDown) || !errors.Is(err, errReplicas) {
		t.Errorf("DoDurable on a primary without replicas = %v; want ErrDown, too few replicas", err)
	}
	if n, err := redistest.Do(alone, "ZCARD", "pw:q:d"); n != "1" || err != nil {
		t.Errorf("ZCARD pw:q:d on that primary = %q, %v; want 1: the write is there, only its replication is unknown", n, err)
	}
}

// The cost of wait_replicas=1: QoS 1-sized writes one at a time (latency)
// and from 16 goroutines (throughput), on a primary with one replica over
// loopback. Phases of 256 writes alternate between a client without WAIT and
// one with it, so that the load of a shared machine weighs on both alike;
// each reports its wall time per write (nowait-ns/op, wait1-ns/op) and the
// ratio.
//
//	go test -run '^$' -bench RedisConnDoDurable -benchtime 20000x ./cluster/redisconn
func BenchmarkRedisConnDoDurable(b *testing.B) {
	sn := redistest.StartSentinel(b, 0) // a primary and its replica; no failover
	var conns [2]*Conn
	for i, q := range []string{"", "?wait_replicas=1"} {
		c, err := New(Options{URL: "redis://" + sn.Primary() + q})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for _, workers := range []int{1, 16} {
		b.Run("writers="+strconv.Itoa(workers), func(b *testing.B) {
			const phase = 256
			var spent [2]time.Duration
			var writes [2]int
			for done := 0; done < b.N; done += phase {
				for i, c := range conns {
					spent[i] += writePhase(b, c, phase, workers)
					writes[i] += phase
				}
			}
			now, wait := float64(spent[0])/float64(writes[0]), float64(spent[1])/float64(writes[1])
			b.ReportMetric(now, "nowait-ns/op")
			b.ReportMetric(wait, "wait1-ns/op")
			b.ReportMetric(wait/now, "wait1/nowait")
		})
	}
}

// writePhase makes n DoDurable writes through c from workers goroutines and
// returns the wall time they took.
func writePhase(b *testing.B, c *Conn, n, workers int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := c.DoDurable(context.Background(), "pw:q:b", zadd("pw:q:b", i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// On a Redis Cluster with replicas, DoDurable's WAIT goes to the master
// that took the write (the key's slot owner), which counts it, and that
// master's replica has the write when DoDurable returns.
func TestRedisConnDoDurableCluster(t *testing.T) {
	t.Parallel()
	rc := redistest.StartWithReplicas(t)
	conn, err := New(Options{URL: rc.URL() + "?wait_replicas=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys := rc.OnEachShard("pw:q:d", func(k string) string { return k })
	for shard, key := range keys {
		for i := range shard + 1 {
			if _, err := conn.DoDurable(context.Background(), key, zadd(key, i)); err != nil {
				t.Fatalf("DoDurable ZADD %s (shard %d) = %v", key, shard, err)
			}
		}
		// A cluster replica answers keyed reads with MOVED (without READONLY):
		// its DBSIZE says the key reached it.
		if n, err := redistest.Do(rc.ReplicaAddrs()[shard], "DBSIZE"); n != "1" || err != nil {
			t.Errorf("DBSIZE on shard %d's replica after DoDurable wrote %s there = %q, %v; want 1", shard, key, n, err)
		}
	}
	for shard, addr := range rc.Addrs() {
		info, err := redistest.Do(addr, "INFO", "commandstats")
		want := "cmdstat_wait:calls=" + strconv.Itoa(shard+1) + ","
		if err != nil || !strings.Contains(info, want) {
			t.Errorf("shard %d's master ran WAIT other than %d times (one per write it took): INFO commandstats = %q, %v", shard, shard+1, info, err)
		}
	}
}
