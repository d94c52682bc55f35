package edge

import (
	"sync"
	"time"
)

// ipCounter enforces --max-conns-per-ip on the edge. Safe for concurrent use.
type ipCounter struct {
	limit int
	mu    sync.Mutex
	count map[[16]byte]int32
}

func NewIPCounter(limit int) *ipCounter {
	return &ipCounter{limit: limit, count: map[[16]byte]int32{}}
}

// Acquire counts one more connection from ip; false when ip is at the limit.
func (c *ipCounter) Acquire(ip [16]byte) bool {
	if c.limit == 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(c.count[ip]) >= c.limit {
		return false
	}
	c.count[ip]++
	return true
}

func (c *ipCounter) release(ip [16]byte) {
	if c.limit == 0 || ip == ([16]byte{}) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.count[ip] - 1; n > 0 {
		c.count[ip] = n
	} else {
		delete(c.count, ip)
	}
}

// rateLimiter is --publish-rate: a token bucket per api client IP holding at
// most one second of publishes. Safe for concurrent use.
type rateLimiter struct {
	rate    float64
	mu      sync.Mutex
	buckets map[[16]byte]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func NewRateLimiter(rate float64) *rateLimiter {
	return &rateLimiter{rate: rate, buckets: map[[16]byte]*bucket{}}
}

func (r *rateLimiter) Allow(ip [16]byte, now time.Time) bool {
	if r.rate == 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[ip]
	if b == nil {
		b = &bucket{tokens: max(r.rate, 1), last: now}
		r.buckets[ip] = b
	}
	b.tokens = min(max(r.rate, 1), b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
