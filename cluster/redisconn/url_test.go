package redisconn

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The ways --redis names one Redis or the seeds of a Redis Cluster.
func TestRedisURLSeeds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url   string
		addrs []string
		db    int
		user  string
		err   string // "" = none; else a part of the error
	}{
		{url: "redis://127.0.0.1:6379/0", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://127.0.0.1/2", addrs: []string{"127.0.0.1:6379"}, db: 2},
		{url: "redis://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002", addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}},
		{url: "redis://u:p@h1:7000,h2:7001/0?dial_timeout=3s", addrs: []string{"h1:7000", "h2:7001"}, user: "u"},
		{url: "redis://h1,h2:7001", addrs: []string{"h1:6379", "h2:7001"}},
		{url: "redis://[::1]:7000,[::1]:7001", addrs: []string{"[::1]:7000", "[::1]:7001"}},
		{url: "redis://h1:7000?addr=h2:7001&addr=h3:7002", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		{url: "redis://h1:7000,h2:7001?addr=h3:7002", addrs: []string{"h1:7000", "h3:7002", "h2:7001"}},
		{url: "redis://h1:7000,h2:7001/1", err: "only database 0"},
		{url: "redis://h1:7000?addr=h2:7001&db=3", err: "only database 0"},
		{url: "redis://h1:7000,,h2:7001", err: "empty address"},
		{url: "http://h1:7000", err: "scheme"},
	}
	for _, c := range cases {
		o, err := ClientOption(c.url, time.Second)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ClientOption(%q) = %v; want an error with %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.InitAddress, c.addrs) || o.SelectDB != c.db || o.Username != c.user {
			t.Errorf("ClientOption(%q) = addrs %q db %d user %q, %v; want %q db %d user %q, nil",
				c.url, o.InitAddress, o.SelectDB, o.Username, err, c.addrs, c.db, c.user)
		}
		if !o.DisableRetry || o.Dialer.Timeout != time.Second {
			t.Errorf("ClientOption(%q): DisableRetry %v, dial timeout %v; want true, 1s", c.url, o.DisableRetry, o.Dialer.Timeout)
		}
	}
}

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
		o, err := ClientOption(c.url, time.Second)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ClientOption(%q) = %v; want an error with %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.InitAddress, c.addrs) || o.Sentinel.MasterSet != c.master || o.SelectDB != c.db || o.Username != c.user {
			t.Errorf("ClientOption(%q) = sentinels %q master %q db %d user %q, %v; want %q %q db %d user %q, nil",
				c.url, o.InitAddress, o.Sentinel.MasterSet, o.SelectDB, o.Username, err, c.addrs, c.master, c.db, c.user)
			continue
		}
		if o.Sentinel.Dialer.Timeout != time.Second || o.Sentinel.TopologyRefreshInterval != sentinelRefresh {
			t.Errorf("ClientOption(%q): sentinel dial timeout %v, refresh %v; want 1s, %v",
				c.url, o.Sentinel.Dialer.Timeout, o.Sentinel.TopologyRefreshInterval, sentinelRefresh)
		}
	}
}
