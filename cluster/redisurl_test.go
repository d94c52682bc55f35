package cluster

import (
	"strings"
	"testing"

	"github.com/pushwire/pushwire/cluster/redisconn"
)

// A malformed sentinel URL is refused by both clients with an error that
// names the URL setting.
func TestRedisURLSentinelRefused(t *testing.T) {
	t.Parallel()
	const bad = "redis-sentinel://s1:26379"
	if _, err := redisconn.New(redisconn.Options{URL: bad}); err == nil || !strings.Contains(err.Error(), "redis url") {
		t.Errorf("redisconn.New(%q) = %v; want an error naming the redis url", bad, err)
	}
	_, err := NewRedisDirectory(RedisOptions{URL: bad, Self: Node{ID: "a", Addr: "127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "redis url") {
		t.Errorf("NewRedisDirectory(%q) = %v; want an error naming the redis url", bad, err)
	}
}
