package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Options configures a Conn.
type Options struct {
	URL       string        // same as the directory's
	OpTimeout time.Duration // bound on every Redis request; 0 = 1s
	Logger    *slog.Logger  // nil = slog.Default()
	Observer  Observer      // Redis request latency for /metrics (QoS store, package admit); nil = none
}

// connRetryGap is the least time between two dials while Redis is unreachable (each failure is
// logged). Once dialled, rueidis reconnects by itself.
const connRetryGap = 500 * time.Millisecond

var (
	// ErrDown means Redis cannot be reached; the error returned wraps it together with the
	// cause. Package cluster's directory answers it too, as cluster.ErrDirectoryDown.
	ErrDown = errors.New("cluster: directory unavailable")
	// ErrClosed means the Conn was closed. Package cluster answers it too, as cluster.ErrClosed.
	ErrClosed = errors.New("cluster: closed")
)

// errNotConnected is the cause wrapped in ErrDown while no client could be made.
var errNotConnected = errors.New("redis store not connected")

// Conn is the Redis client of what a node keeps in Redis besides its directory: the QoS 1
// mailbox (store.Redis), the idempotency keys and the per-user conn keys (admit.IdemRedis,
// admit.UserConnsRedis) share one. It dials in the background from the start (New),
// without client-side caching: every read must see the latest writes, and nothing kept there is
// worth caching.
//
// Every method is safe for concurrent use. Failures to reach Redis come back within OpTimeout
// as errors wrapping ErrDown; the connection recovers by itself when Redis answers again.
//
// Lock contract: mu guards closed, dialing, dialErr and lastTry; it is never held across I/O
// (the one goroutine that dials sets dialing and releases mu first).
type Conn struct {
	o    Options
	copt rueidis.ClientOption
	dur  durability                     // --redis's wait_replicas, wait_timeout
	cli  atomic.Pointer[rueidis.Client] // nil until the first successful dial, and after Close

	mu      sync.Mutex
	closed  bool
	dialing chan struct{} // non-nil while a dial runs; closed when it ends
	dialErr error         // the last dial's error
	lastTry time.Time
}

// New checks the options and starts the first dial in the background, so that a
// node's first subscribers find the client made: when 19,000 streams came at once to a node
// that had just started, on a loaded machine, replay reads that waited for a dial begun by the
// first of them ran out of OpTimeout ("redis store not connected"), and each such failure costs
// a re-run of the node's replays (Recheck). It does not wait for that dial (Redis may be down when the node
// starts); requests that come while it dials wait for it, and while Redis stays unreachable a
// new dial is tried at most every connRetryGap; in between, requests fail at once.
func New(o Options) (*Conn, error) {
	if o.OpTimeout <= 0 {
		o.OpTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	copt, err := ClientOption(o.URL, o.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis url: %w", err)
	}
	dur, err := redisDurability(o.URL, o.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis url: %w", err)
	}
	copt.DisableCache = true
	s := &Conn{o: o, copt: copt, dur: dur}
	go func() { _, _ = s.client(context.Background()) }() // bounded by the dialer's OpTimeout
	return s, nil
}

// WaitReplicas is --redis's wait_replicas: how many replicas DoDurable waits for (0 = none).
func (s *Conn) WaitReplicas() int { return s.dur.replicas }

// errReplicas is the cause wrapped in DoDurable's error when too few replicas acknowledged.
var errReplicas = errors.New("too few replicas acknowledged the write")

// DoDurable runs write, a command on key, then (with wait_replicas=N) WAIT N on the same
// connection, pipelined: rueidis sends a pipeline holding a blocking command on one dedicated
// connection, and on a Redis Cluster the WAIT is routed to key's slot. The write's result comes
// back only once N replicas acknowledged it; fewer within wait_timeout is an error wrapping
// ErrDown: the write is on the primary, but whether it survives a failover is unknown.
// Without wait_replicas it is one Do. write must be idempotent (see DoMulti).
func (s *Conn) DoDurable(ctx context.Context, key string, write func(c rueidis.Client) rueidis.Completed) (rueidis.RedisResult, error) {
	if s.dur.replicas == 0 {
		return s.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult { return c.Do(ctx, write(c)) })
	}
	res, err := s.DoMulti(ctx, func(c rueidis.Client) rueidis.Commands {
		return rueidis.Commands{write(c),
			c.B().Wait().Numreplicas(int64(s.dur.replicas)).Timeout(s.dur.timeout.Milliseconds()).Build().SetSlot(key)}
	})
	if err != nil {
		return rueidis.RedisResult{}, err
	}
	if err := res[0].Error(); err != nil {
		return res[0], nil // a Redis error reply, for the caller to read
	}
	n, err := res[1].AsInt64()
	if err == nil && n < int64(s.dur.replicas) {
		err = fmt.Errorf("%w: %d of %d within %v", errReplicas, n, s.dur.replicas, s.dur.timeout)
	}
	if err != nil {
		return rueidis.RedisResult{}, fmt.Errorf("%w: WAIT: %w", ErrDown, err)
	}
	return res[0], nil
}

// Logger is the logger the options named (or slog.Default).
func (s *Conn) Logger() *slog.Logger { return s.o.Logger }

// Close closes the Redis client. Requests after Close fail with ErrClosed.
func (s *Conn) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if p := s.cli.Swap(nil); p != nil {
		(*p).Close()
	}
	return nil
}

// client returns the rueidis client, dialling when there is none yet. A caller that comes while
// another goroutine dials waits for that dial (until ctx ends) rather than failing: a new node's
// first subscribers race the first dial (on a Redis Cluster it asks a seed for the slot map and
// then dials every master), and failing them would skip their QoS 1 replay. While Redis stays
// unreachable a dial is tried at most every connRetryGap; in between, callers fail at once.
func (s *Conn) client(ctx context.Context) (rueidis.Client, error) {
	for {
		if p := s.cli.Load(); p != nil {
			return *p, nil
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if p := s.cli.Load(); p != nil {
			s.mu.Unlock()
			return *p, nil
		}
		if wait := s.dialing; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w: %w", ErrDown, errNotConnected, ctx.Err())
			}
		}
		now := time.Now()
		if now.Sub(s.lastTry) < connRetryGap {
			err := s.dialErr
			s.mu.Unlock()
			if err == nil {
				err = errNotConnected
			}
			return nil, fmt.Errorf("%w: %w", ErrDown, err)
		}
		done := make(chan struct{})
		s.dialing, s.lastTry = done, now
		s.mu.Unlock()
		return s.dial(done)
	}
}

// dial makes the client; done is closed, for the callers waiting on it, once the outcome is set.
func (s *Conn) dial(done chan struct{}) (rueidis.Client, error) {
	c, err := rueidis.NewClient(s.copt) // dials; bounded by Dialer.Timeout = OpTimeout
	if err == nil {
		c = Timed(c, s.o.Observer)
	}

	s.mu.Lock()
	s.dialing, s.dialErr = nil, err
	closed := s.closed
	if err == nil && !closed {
		s.cli.Store(&c)
	}
	s.mu.Unlock()
	close(done)
	switch {
	case err != nil:
		s.o.Logger.Warn("cluster: redis message store unreachable", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrDown, err)
	case closed:
		c.Close()
		return nil, ErrClosed
	}
	return c, nil
}

// Do runs one request bounded by OpTimeout. A connection that broke while idle reports its
// error on first use, after rueidis has replaced it, so a non-Redis error is retried at once:
// every request sent through Do must be idempotent.
func (s *Conn) Do(ctx context.Context, req func(ctx context.Context, c rueidis.Client) rueidis.RedisResult) (rueidis.RedisResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
	defer cancel()
	c, err := s.client(ctx)
	if err != nil {
		return rueidis.RedisResult{}, err
	}
	r := req(ctx, c)
	// rueidis multiplexes several connections; after Redis restarted each may report its break
	// once, so a few immediate retries get through (a Redis that is down refuses them at once).
	for try := 0; try < 3 && r.NonRedisError() != nil && ctx.Err() == nil; try++ {
		r = req(ctx, c)
	}
	if err := r.NonRedisError(); err != nil {
		if errors.Is(err, rueidis.ErrClosing) && s.isClosed() {
			return r, ErrClosed
		}
		return r, fmt.Errorf("%w: %w", ErrDown, err)
	}
	return r, nil
}

// DoMulti runs the commands build makes, pipelined, once more at once if the connection failed
// (so they must be idempotent), bounded by OpTimeout.
func (s *Conn) DoMulti(ctx context.Context, build func(rueidis.Client) rueidis.Commands) ([]rueidis.RedisResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
	defer cancel()
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	var res []rueidis.RedisResult
	for try := 0; try < 2; try++ {
		res = c.DoMulti(ctx, build(c)...)
		err = nil
		for _, rr := range res {
			if e := rr.NonRedisError(); e != nil {
				err = e
				break
			}
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDown, err)
	}
	return res, nil
}

func (s *Conn) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
