package admit

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/cluster/redistest"
)

// newConn is a RedisConn on the Redis (or Redis Cluster) that url names, closed at test end.
func newConn(t testing.TB, url string) *redisconn.Conn {
	t.Helper()
	c, err := redisconn.New(redisconn.Options{URL: url, OpTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("redisconn.New = %v; want nil", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pttl is the PTTL of key on r, in milliseconds.
func pttl(r *redistest.Server, key string) (int64, error) {
	reply, err := redistest.Do(r.Addr(), "PTTL", key)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(reply, 10, 64)
}
