package pubclient

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Config configures a Client. Only Addrs is required.
type Config struct {
	// Addrs are host:port of api listeners (--api-listen) of nodes of one
	// cluster, or of one standalone node.
	Addrs []string
	// Token is sent as "Authorization: Bearer <Token>" (--api-token).
	Token string
	// Timeout bounds one attempt: connect, send, answer (default 10s).
	Timeout time.Duration
	// Retries is how many times a failed publish is sent again (default 3;
	// negative: never). See the package doc for when.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next one up
	// to MaxBackoff, each wait a random duration in [w/2, w) (defaults 50ms, 2s).
	Backoff, MaxBackoff time.Duration
	// RetryWithoutKey retries publishes that carry no idempotency key too,
	// accepting that a retried message may be delivered twice.
	RetryWithoutKey bool
	// DownFor is how long an address whose connection was refused is skipped
	// while another is up (default 1s).
	DownFor time.Duration
	// MaxConnsPerAddr bounds the keep-alive connections to each address
	// (default 64): concurrent publishes beyond it wait for a free one.
	MaxConnsPerAddr int
}

// Client publishes to pushwire. It is safe for concurrent use.
type Client struct {
	cfg   Config
	auth  []byte // "Bearer <token>", nil without one
	nodes []node
	next  atomic.Uint32 // round-robin start
}

// node is one address and its connections.
type node struct {
	addr      string
	hc        *fasthttp.HostClient
	downUntil atomic.Int64 // unix ns until which the address is skipped
}

// New returns a Client for cfg. It opens no connection.
func New(cfg Config) (*Client, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("pubclient: Config.Addrs is empty")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = time.Second
	}
	if cfg.MaxConnsPerAddr <= 0 {
		cfg.MaxConnsPerAddr = 64
	}
	c := &Client{cfg: cfg, nodes: make([]node, len(cfg.Addrs))}
	if cfg.Token != "" {
		c.auth = []byte("Bearer " + cfg.Token)
	}
	for i, a := range cfg.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, errors.New("pubclient: address " + a + " is not host:port")
		}
		c.nodes[i].addr = a
		c.nodes[i].hc = &fasthttp.HostClient{
			Addr:                a,
			MaxConns:            cfg.MaxConnsPerAddr,
			MaxIdleConnDuration: time.Minute,
			// Idempotent-request retries inside fasthttp would resend a POST
			// behind our back; every retry is decided here.
			RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
			DisableHeaderNamesNormalizing: true,
			NoDefaultUserAgentHeader:      true,
		}
	}
	return c, nil
}

// Close closes the idle connections. Publishes in flight finish.
func (c *Client) Close() {
	for i := range c.nodes {
		c.nodes[i].hc.CloseIdleConnections()
	}
}

// pick returns the node for attempt number attempt of a call that started
// at index start: the next addresses in turn, skipping ones marked down
// unless every one is.
func (c *Client) pick(start uint32, attempt int) *node {
	n := uint32(len(c.nodes))
	now := time.Now().UnixNano()
	for i := range n {
		nd := &c.nodes[(start+uint32(attempt)+i)%n]
		if nd.downUntil.Load() <= now {
			return nd
		}
	}
	return &c.nodes[(start+uint32(attempt))%n]
}

// reply is the outcome of one request.
type reply struct {
	status int
	res    Result
	msg    string // the "error" of a failed answer
	addr   string // the node asked
	err    error  // transport error (status 0)
	// sent is false when the request cannot have reached the node (the dial
	// failed): trying the next address is then safe without a key.
	sent bool
}

// do runs fn (one request to nd, which owns its request and response
// objects) under ctx and the attempt timeout. Unless inline, fn runs on
// another goroutine when ctx can be cancelled, so that cancellation returns at
// once; fasthttp itself has no cancellation, and fn finishes within the
// timeout on its own. inline fn checks ctx itself.
func (c *Client) do(ctx context.Context, nd *node, inline bool, fn func(deadline time.Time) reply) reply {
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var r reply
	if inline || ctx.Done() == nil {
		r = fn(deadline)
	} else {
		done := make(chan reply, 1)
		go func() { done <- fn(deadline) }()
		select {
		case r = <-done:
		case <-ctx.Done():
			return reply{err: ctx.Err(), sent: true, addr: nd.addr}
		}
	}
	r.sent, r.addr = true, nd.addr
	if r.err != nil && isDialError(r.err) {
		nd.downUntil.Store(time.Now().Add(c.cfg.DownFor).UnixNano())
		r.sent = false
	}
	return r
}

// isDialError reports whether err says the connection was never made.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, fasthttp.ErrDialTimeout)
}

// wait sleeps the jittered backoff before retry number retry (0 first),
// returning ctx.Err() if ctx ends first.
func (c *Client) wait(ctx context.Context, retry int) error {
	w := c.cfg.Backoff << min(retry, 20)
	if w > c.cfg.MaxBackoff || w <= 0 {
		w = c.cfg.MaxBackoff
	}
	w = w/2 + rand.N(w/2+1)
	t := time.NewTimer(w)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retry reports whether a failed request is tried again: one that never
// left (dial error) always may; others only with a key or RetryWithoutKey.
func (c *Client) retry(r reply, keyed bool) bool {
	if r.err != nil && !r.sent {
		return true
	}
	if !keyed && !c.cfg.RetryWithoutKey {
		return false
	}
	if r.err != nil {
		return !errors.Is(r.err, context.Canceled) && !errors.Is(r.err, context.DeadlineExceeded)
	}
	return retryableStatus(r.status)
}

// call sends one publish (fn) with failover and retries, and returns the last
// reply. keyed says whether every message in it carries an idempotency key.
func (c *Client) call(ctx context.Context, keyed, inline bool, fn func(nd *node, deadline time.Time) reply) reply {
	start := c.next.Add(1)
	var r reply
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return reply{err: err}
		}
		nd := c.pick(start, try)
		r = c.do(ctx, nd, inline, func(deadline time.Time) reply { return fn(nd, deadline) })
		if r.err == nil && (r.status == 200 || r.status == 202) {
			return r
		}
		if try >= c.cfg.Retries || !c.retry(r, keyed) {
			return r
		}
		if r.sent { // a refused dial moves on to the next address at once
			if err := c.wait(ctx, try); err != nil {
				return reply{err: err}
			}
		}
	}
}

// error turns a failed reply into the error a call returns.
func (r *reply) error() error {
	if r.err != nil {
		return r.err
	}
	if r.status == 200 || r.status == 202 {
		return nil
	}
	return &StatusError{Status: r.status, Message: r.msg, Addr: r.addr}
}
