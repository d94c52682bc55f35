package redisconn

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// Observer receives the Redis timings a Conn and package cluster's directory
// measure, for a node's /metrics (cluster.Observer is this type). It is called
// on the goroutine that measured, often many at once: it must be safe for
// concurrent use and cheap (a histogram update), since it runs once per Redis
// request. A nil Observer in the options measures nothing and costs nothing.
// (links.Observer is its node-link counterpart; one value may be both.)
type Observer interface {
	// RedisCommand is the time of one request that went to Redis: a command or
	// a pipeline. Reads answered by the client-side cache are not observed.
	RedisCommand(d time.Duration)
}

// timedClient times the requests of a rueidis client for an Observer. Only the
// calls a Conn and the directory make (Do, DoMulti, DoCache, DoMultiCache; Lua
// scripts go through Do) are timed; everything else is the client's own.
type timedClient struct {
	rueidis.Client
	obs Observer
}

// Timed wraps c so that obs sees its requests; without obs it is c itself. The
// directory (package cluster) wraps its client with it too.
func Timed(c rueidis.Client, obs Observer) rueidis.Client {
	if obs == nil {
		return c
	}
	return timedClient{Client: c, obs: obs}
}

func (c timedClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	start := time.Now()
	r := c.Client.Do(ctx, cmd)
	c.obs.RedisCommand(time.Since(start))
	return r
}

func (c timedClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	start := time.Now()
	rs := c.Client.DoMulti(ctx, cmds...)
	c.obs.RedisCommand(time.Since(start))
	return rs
}

func (c timedClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	start := time.Now()
	r := c.Client.DoCache(ctx, cmd, ttl)
	if !r.IsCacheHit() {
		c.obs.RedisCommand(time.Since(start))
	}
	return r
}

func (c timedClient) DoMultiCache(ctx context.Context, cmds ...rueidis.CacheableTTL) []rueidis.RedisResult {
	start := time.Now()
	rs := c.Client.DoMultiCache(ctx, cmds...)
	for _, r := range rs {
		if !r.IsCacheHit() { // one miss made the pipeline a round trip
			c.obs.RedisCommand(time.Since(start))
			break
		}
	}
	return rs
}
