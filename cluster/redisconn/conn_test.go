package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster/redistest"
)

var bg = context.Background()

// rawClient is a client without client-side caching on the Redis at addr, to inspect it
// directly; closed at test end.
func rawClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("raw redis client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newTestConnURL is a Conn on the Redis (or Redis Cluster) that url names, closed at test end.
func newTestConnURL(t *testing.T, url string, opTimeout time.Duration) *Conn {
	t.Helper()
	c, err := New(Options{URL: url, OpTimeout: opTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New = %v; want nil", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// New dials at once, in the background: a new node's first subscribers find the
// client made instead of all waiting on a dial the first of them began.
func TestRedisConnDialsAtStart(t *testing.T) {
	r := redistest.StartServer(t)
	raw := rawClient(t, r.Addr())
	clients := func() int {
		n, err := raw.Do(bg, raw.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(n, "\n")
	}
	before := clients()
	s := newTestConnURL(t, r.URL(), time.Second)
	redistest.Eventually(t, 5*time.Second, func() string {
		if n := clients(); n <= before {
			return fmt.Sprintf("%d Redis clients, as before New; want its connection, made with no request", n)
		}
		return ""
	})
	_ = s
}

// countingObserver counts what it is told.
type countingObserver struct {
	redis atomic.Int64
}

func (o *countingObserver) RedisCommand(d time.Duration) {
	if d > 0 {
		o.redis.Add(1)
	}
}

// The message store times each of its requests: a Put, a Pending, an Ack.
func TestObserverRedisStore(t *testing.T) {
	r := redistest.StartServer(t)
	var obs countingObserver
	s, err := New(Options{URL: r.URL(), Logger: slog.New(slog.DiscardHandler), Observer: &obs})
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
