package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The ways --redis names the sentinels of a primary, and the malformed ones
// refused with an error that says what is wrong (never a panic).
func TestRedisURLSentinel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url    string
		addrs  []string // the sentinels
		master string
		db     int
		user   string
		err    string // "" = none; else a part of the error
	}{
		{url: "redis-sentinel://127.0.0.1:26379/mymaster", addrs: []string{"127.0.0.1:26379"}, master: "mymaster"},
		{url: "redis-sentinel://s1,s2:26380,[::1]/m", addrs: []string{"s1:26379", "s2:26380", "[::1]:26379"}, master: "m"},
		{url: "redis-sentinel://u:p@s1:1,s2:2/m/3?dial_timeout=2s", addrs: []string{"s1:1", "s2:2"}, master: "m", db: 3, user: "u"},
		{url: "redis-sentinel://s1:1/m?master_set=m", addrs: []string{"s1:1"}, master: "m"},
		{url: "redis://s1:1,s2:2/2?master_set=m", addrs: []string{"s1:1", "s2:2"}, master: "m", db: 2},
		{url: "redis://s1:1?addr=s2:2&master_set=m", addrs: []string{"s1:1", "s2:2"}, master: "m"},
		{url: "redis-sentinel://s1:26379", err: "no primary name"},
		{url: "redis-sentinel://s1:26379/", err: "no primary name"},
		{url: "redis-sentinel://s1:26379/m/1/2", err: "no primary name"},
		{url: "redis-sentinel://s1:26379/m/x", err: `database "x"`},
		{url: "redis-sentinel:///m", err: "empty address"},
		{url: "redis-sentinel://s1,,s2/m", err: "empty address"},
		{url: "redis-sentinel://s1:abc/m", err: `address "s1:abc"`},
		{url: "redis-sentinel://s1:99999/m", err: `address "s1:99999"`},
		{url: "redis-sentinel://:26379/m", err: `address ":26379"`},
		{url: "redis-sentinel://s1/m?master_set=other", err: "named both"},
		{url: "redis-sentinel://s1/m?dial_timeout=soon", err: "dial timeout"},
		{url: "redis://h1:abc,h2/0", err: `address "h1:abc"`},
	}
	for _, c := range cases {
		o, err := redisClientOption(c.url, time.Second)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("redisClientOption(%q) = %v; want an error with %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.InitAddress, c.addrs) || o.Sentinel.MasterSet != c.master || o.SelectDB != c.db || o.Username != c.user {
			t.Errorf("redisClientOption(%q) = sentinels %q master %q db %d user %q, %v; want %q %q db %d user %q, nil",
				c.url, o.InitAddress, o.Sentinel.MasterSet, o.SelectDB, o.Username, err, c.addrs, c.master, c.db, c.user)
			continue
		}
		if o.Sentinel.Dialer.Timeout != time.Second || o.Sentinel.TopologyRefreshInterval != sentinelRefresh {
			t.Errorf("redisClientOption(%q): sentinel dial timeout %v, refresh %v; want 1s, %v",
				c.url, o.Sentinel.Dialer.Timeout, o.Sentinel.TopologyRefreshInterval, sentinelRefresh)
		}
	}
}

// A malformed sentinel URL is refused by both clients with an error that
// names the URL setting.
func TestRedisURLSentinelRefused(t *testing.T) {
	t.Parallel()
	const bad = "redis-sentinel://s1:26379"
	if _, err := NewRedisConn(RedisConnOptions{URL: bad}); err == nil || !strings.Contains(err.Error(), "redis url") {
		t.Errorf("NewRedisConn(%q) = %v; want an error naming the redis url", bad, err)
	}
	_, err := NewRedisDirectory(RedisOptions{URL: bad, Self: Node{ID: "a", Addr: "127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "redis url") {
		t.Errorf("NewRedisDirectory(%q) = %v; want an error naming the redis url", bad, err)
	}
}
