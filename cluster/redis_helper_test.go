package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// testRedis is a redis-server child process on a free loopback port, stopped at test end.
// Tests that need it fail (never skip) when redis-server is missing.
type testRedis struct {
	t testing.TB
	*redistest.Server
}

func startRedis(t testing.TB) *testRedis {
	t.Helper()
	return &testRedis{t: t, Server: redistest.StartServer(t)}
}

func (r *testRedis) addr() string { return r.Addr() }
func (r *testRedis) url() string  { return r.URL() }

// start runs redis-server again on its port (after stop) and waits until it answers.
func (r *testRedis) start() { r.t.Helper(); r.Start() }

// stop kills redis-server and waits for it (its data is lost: no persistence).
func (r *testRedis) stop() { r.Stop() }

// raw returns a client without client-side caching, to inspect and poke Redis directly.
func (r *testRedis) raw() rueidis.Client {
	r.t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{r.addr()}, DisableCache: true})
	if err != nil {
		r.t.Fatalf("raw redis client: %v", err)
	}
	r.t.Cleanup(c.Close)
	return c
}

// commandCalls returns how many times Redis executed cmd (from INFO commandstats).
func commandCalls(t testing.TB, c rueidis.Client, cmd string) int {
	t.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	prefix := "cmdstat_" + cmd + ":calls="
	for i := 0; i+len(prefix) <= len(info); i++ {
		if info[i:i+len(prefix)] == prefix {
			fmt.Sscanf(info[i+len(prefix):], "%d", &n)
			return n
		}
	}
	return 0
}

// newTestDir starts a RedisDirectory for node id on r, closed at test end.
func newTestDir(t testing.TB, r *testRedis, id string, ttl time.Duration) *RedisDirectory {
	t.Helper()
	return newTestDirURL(t, r.url(), id, ttl)
}

// newTestDirURL starts a RedisDirectory for node id on the Redis (or Redis Cluster) that url
// names, closed at test end.
func newTestDirURL(t testing.TB, url, id string, ttl time.Duration) *RedisDirectory {
	t.Helper()
	d, err := NewRedisDirectory(RedisOptions{
		URL: url, Self: Node{ID: id, Addr: id + ".test:7946"}, NodeTTL: ttl, OpTimeout: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		// The first registration is bounded by OpTimeout (500 ms here, so that tests of Redis
		// going away are quick); on a loaded machine (load 27 on 2 cores) its dial alone took
		// longer. Only a Redis that is down is an error here: the directory keeps trying (every
		// retryGap) and registers once it gets through.
		if !errors.Is(err, ErrDirectoryDown) {
			t.Fatalf("Start(%s) = %v; want nil", id, err)
		}
		t.Logf("Start(%s) = %v; waiting for the directory's own retries", id, err)
		redistest.Eventually(t, 20*time.Second, func() string {
			nodes, err := d.Nodes(context.Background())
			if !slices.ContainsFunc(nodes, func(n Node) bool { return n.ID == id }) {
				return fmt.Sprintf("Start(%s) failed and the node is not registered since: Nodes = %v, %v", id, nodes, err)
			}
			return ""
		})
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// crash stops d's heartbeat and writer without unregistering: to Redis, the node died.
func (d *RedisDirectory) crash() {
	d.once.Do(func() { close(d.done) })
	<-d.finished
}

// eventually is redistest.Eventually.
func eventually(t *testing.T, timeout time.Duration, f func() string) {
	t.Helper()
	redistest.Eventually(t, timeout, f)
}
