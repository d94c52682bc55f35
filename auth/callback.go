package auth

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// CallbackOptions configures a Callback.
type CallbackOptions struct {
	URL      string        // http:// or https:// URL
	Timeout  time.Duration // --auth-timeout: no full answer within it → error (server answers 502); 0 = 3s
	MaxConns int           // connections to the auth service at most; 0 = 256
	Logger   *slog.Logger  // nil = slog.Default()
}

const (
	defaultCallbackTimeout  = 3 * time.Second
	defaultCallbackMaxConns = 256
	// maxAnswerBytes bounds a callback answer body: an identity is a user id and a few patterns,
	// and a service that sends more is broken, not generous.
	maxAnswerBytes = 64 << 10
	userAgent      = "pushwire-auth"
)

// Callback asks --auth-url about each subscribe, like nginx auth_request. Safe for concurrent use.
type Callback struct {
	url     string // as configured, sent as it is
	host    string // the Host header: the URL's host[:port]
	logURL  string // url without query or fragment, which may hold a key
	timeout time.Duration
	client  *fasthttp.Client
	log     *slog.Logger
	failing atomic.Bool // the last Check failed: Check logs only the changes, not every failure
}

// NewCallback checks o and returns a Callback; it connects on the first Check. The error (printed
// after "--auth-url: ") says what is wrong with the URL or the options.
func NewCallback(o CallbackOptions) (*Callback, error) {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", o.URL)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an absolute http:// or https:// URL", o.URL)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", o.URL)
	case u.User != nil:
		// The client's own Authorization header is what the callback is for; credentials in the
		// URL would be sent in its place.
		return nil, fmt.Errorf("%q carries credentials; a callback gets the client's Authorization header", u.Redacted())
	case o.Timeout < 0:
		return nil, fmt.Errorf("timeout %v is negative", o.Timeout)
	case o.MaxConns < 0:
		return nil, fmt.Errorf("max connections %d is negative", o.MaxConns)
	}
	c := &Callback{
		url:     o.URL,
		host:    u.Host,
		logURL:  (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(),
		timeout: cmp.Or(o.Timeout, defaultCallbackTimeout),
		log:     o.Logger,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.client = &fasthttp.Client{
		MaxConnsPerHost: cmp.Or(o.MaxConns, defaultCallbackMaxConns),
		// Past MaxConns a Check waits for a free connection instead of failing at once; the
		// request's own timeout still bounds the whole call, waiting included.
		MaxConnWaitTimeout:     c.timeout,
		MaxResponseBodySize:    maxAnswerBytes,
		ReadBufferSize:         8 << 10, // response headers of proxied auth services can be long
		DisablePathNormalizing: true,    // the URL is sent exactly as configured
		DialDualStack:          true,    // a host may be IPv6 only, e.g. [::1]
	}
	return c, nil
}

// CallbackRequest is what a subscribe tells the callback. Each field is sent as the request
// header of the same name (Cookie, Authorization, X-Forwarded-For, X-Original-URI) exactly as it
// is; an empty one is not sent. Check does not keep the slices.
type CallbackRequest struct {
	Cookie, Authorization, XForwardedFor, OriginalURI []byte
	// Deadline, when set, ends the wait for the answer instead of Timeout from now: a
	// subscriber that already waited for a free worker gets Timeout in all, not more.
	Deadline time.Time
}

// Verdict is the callback's answer.
type Verdict struct {
	Status   int      // the callback's status: 2xx allowed; 401 or 403 denied (the server passes that status to the client)
	Identity Identity // when allowed
}

// Check sends GET URL with r's headers and reads the answer; it blocks for up to the timeout, so
// never call it on an event loop. A 2xx answer gives the identity its body names (see
// parseAnswer); 401 and 403 give a Verdict with that status and no error. Every other status
// (3xx included: redirects are not followed), a 2xx body that is not an identity, a transport
// error, or no whole answer within the timeout is an error that says which; the server answers
// its client 502 then.
func (c *Callback) Check(r *CallbackRequest) (Verdict, error) {
	headers := r.headers()
	for _, h := range headers {
		// fasthttp writes values as they are, so a CR or LF would let the client write header
		// lines of its own to the auth service. The server's parser rejects such requests
		// already; this keeps the callback safe without relying on it.
		if bytes.ContainsAny(h.value, "\r\n\x00") {
			return Verdict{}, fmt.Errorf("auth callback not asked: the %s header holds a CR, LF or NUL byte", h.name)
		}
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	// fasthttp re-parses and re-writes a Cookie header (unquoting values, dropping spaces). The
	// callback must see the client's bytes, so special headers are off and Host and User-Agent
	// are set here. Reset turns them back on before the request returns to the pool.
	req.Header.DisableSpecialHeader()
	req.SetRequestURI(c.url)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set("Host", c.host)
	req.Header.Set("User-Agent", userAgent)
	for _, h := range headers {
		if len(h.value) > 0 {
			req.Header.SetBytesV(h.name, h.value)
		}
	}

	deadline := r.Deadline
	if deadline.IsZero() {
		deadline = time.Now().Add(c.timeout)
	}
	v, err := c.verdict(resp, c.client.DoDeadline(req, resp, deadline))
	c.noteHealth(err)
	return v, err
}

// header is one request header a CallbackRequest carries.
type header struct {
	name  string
	value []byte
}

// headers lists r's fields under the header names they are sent as.
func (r *CallbackRequest) headers() [4]header {
	return [4]header{
		{"Cookie", r.Cookie},
		{"Authorization", r.Authorization},
		{"X-Forwarded-For", r.XForwardedFor},
		{"X-Original-URI", r.OriginalURI},
	}
}

// verdict reads the answer of a request that ended with err.
func (c *Callback) verdict(resp *fasthttp.Response, err error) (Verdict, error) {
	if err != nil {
		return Verdict{}, c.transportError(err)
	}
	status := resp.StatusCode()
	switch {
	case status >= 200 && status < 300:
		id, err := parseAnswer(resp.Body())
		if err != nil {
			return Verdict{}, fmt.Errorf("auth callback answered %d but its %w", status, err)
		}
		return Verdict{Status: status, Identity: id}, nil
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		return Verdict{Status: status}, nil
	}
	return Verdict{}, fmt.Errorf("auth callback answered %d", status)
}

// transportError says why no answer came.
func (c *Callback) transportError(err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("auth callback timed out after %v", c.timeout)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Errorf("auth callback answer is over %d bytes", maxAnswerBytes)
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return errors.New("auth callback closed the connection without answering")
	case isDialError(err):
		return fmt.Errorf("auth callback unreachable: %w", err)
	}
	return fmt.Errorf("auth callback failed: %w", err)
}

// isDialError reports whether err came from resolving or connecting, before any request was sent.
func isDialError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial"
}

// noteHealth logs when the callback starts failing and when it answers again, once each: under
// load a failing callback fails every subscribe, and one line per subscribe would bury the cause.
func (c *Callback) noteHealth(err error) {
	if err != nil {
		if c.failing.CompareAndSwap(false, true) {
			c.log.Warn("auth callback failing; subscribers get 502 until it answers", "url", c.logURL, "err", err)
		}
		return
	}
	if c.failing.CompareAndSwap(true, false) {
		c.log.Info("auth callback answering again", "url", c.logURL)
	}
}

// Close releases idle connections. A Check after Close still works and dials again.
func (c *Callback) Close() {
	c.client.CloseIdleConnections()
}
