package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// maxAnswerBytes bounds the hook's answer body we read. The body means nothing to us; a 2xx
// with a larger one still counts as accepted.
const maxAnswerBytes = 64 << 10

// poster makes the POSTs: one fasthttp.HostClient with at most one connection (kept alive),
// and one request and response reused for every POST. Only the sender goroutine uses it.
type poster struct {
	hc      *fasthttp.HostClient
	req     fasthttp.Request
	resp    fasthttp.Response
	timeout time.Duration
	abort   context.Context // Sender.abort: its end closes every connection made here
}

func (p *poster) init(raw string, u hookURL, timeout time.Duration, abort context.Context) {
	p.timeout = timeout
	p.abort = abort
	p.hc = &fasthttp.HostClient{
		Addr:                      u.addr,
		IsTLS:                     u.tls,
		Name:                      "pushwire",
		DialTimeout:               p.dial,
		MaxConns:                  1,
		ReadTimeout:               timeout,
		WriteTimeout:              timeout, // also bounds a TLS handshake
		MaxResponseBodySize:       maxAnswerBytes,
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryStale,
	}
	p.req.SetRequestURI(raw)
	p.req.Header.SetMethod(fasthttp.MethodPost)
	p.req.Header.SetContentType("application/x-ndjson")
}

// do POSTs body and returns nil when the hook answered 2xx. body is not copied; it must stay
// unchanged until do returns.
func (p *poster) do(body []byte) error {
	p.req.SetBodyRaw(body)
	err := p.hc.DoTimeout(&p.req, &p.resp, p.timeout)
	p.req.SetBodyRaw(nil) // the queue's memory is reused once do returns
	code := p.resp.StatusCode()
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge) && code >= 200 && code <= 299:
		return nil // the status line said accepted; only the body was too long to read
	case err != nil:
		return err
	case code < 200 || code > 299:
		return fmt.Errorf("answered %d", code)
	}
	return nil
}

// closeIdle closes the kept-alive connection (the sender is stopping).
func (p *poster) closeIdle() { p.hc.CloseIdleConnections() }

// dial connects to addr within timeout, and ties the connection to abort, so that Close can
// cut a POST in flight (a hook that never answers) instead of waiting out Timeout.
func (p *poster) dial(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(p.abort, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(p.abort, func() { c.Close() })
	return &abortConn{Conn: c, stop: stop}, nil
}

// abortConn is a connection closed when Close gives up; closing it first forgets that tie.
type abortConn struct {
	net.Conn
	stop func() bool
}

func (c *abortConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// retryStale allows one immediate second attempt when the connection broke before any answer
// came: the hook closed its end of an idle kept-alive connection just as we reused it. Such a
// failure says nothing about the hook's health, so it should not start a backoff. (The hook
// may have read the first attempt; delivery is at least once anyway.)
func retryStale(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return false, stale
}
