package server

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// authorizer allows or refuses subscribes (SPEC §6). A token is checked on
// the loop (an HMAC, microseconds); a callback is asked by a few worker
// goroutines, never by a loop, while the subscriber's connection waits in
// modeAsync. Nothing of it stays with a connection once it is allowed.
type authorizer struct {
	s        *Server
	jwt      *auth.JWTVerifier // --jwt-secret; nil without
	callback *auth.Callback    // --auth-url; nil without
	acl      *auth.ACL         // --topic-acl; allows nothing when empty

	workers *workerPool // ask the callback; the subscribers wait in modeAsync

	denied atomic.Uint64 // subscribes refused with 401 or 403
	failed atomic.Uint64 // callbacks that gave no usable answer (502)
}

const (
	// authWorkers bounds the callbacks in flight: a connect storm queues
	// behind them instead of opening a connection to the auth service each.
	authWorkers = 64
	// authQueue bounds the subscribes waiting for a worker; past it a
	// subscribe is answered 503 at once.
	authQueue = 16384
	// authWorkerLinger is how long an idle worker waits before it exits, so
	// a quiet node keeps no goroutine for auth.
	authWorkerLinger = 5 * time.Second
)

// newAuthorizer builds the authorizer the settings ask for; nil when they
// configure no subscriber auth.
func newAuthorizer(s *Server) (*authorizer, error) {
	cfg := &s.cfg
	if cfg.AuthURL == "" && cfg.JWTSecret == "" {
		return nil, nil
	}
	a := &authorizer{s: s, workers: newWorkerPool(authWorkers, authQueue, authWorkerLinger)}
	var err error
	if a.acl, err = auth.ParseACL(cfg.TopicACL); err != nil {
		return nil, fmt.Errorf("--topic-acl: %w", err)
	}
	if cfg.JWTSecret != "" {
		if a.jwt, err = auth.NewJWTVerifier([]byte(cfg.JWTSecret)); err != nil {
			return nil, fmt.Errorf("--jwt-secret: %w", err)
		}
	}
	if cfg.AuthURL != "" {
		a.callback, err = auth.NewCallback(auth.CallbackOptions{URL: cfg.AuthURL, Timeout: cfg.AuthTimeout, Logger: s.log})
		if err != nil {
			return nil, fmt.Errorf("--auth-url: %w", err)
		}
	}
	return a, nil
}

// close lets idle connections to the auth service go. Workers still asking
// end within --auth-timeout (their verdicts go to a stopped engine, which
// drops them), then leave as idle workers do.
func (a *authorizer) close() {
	if a.callback != nil {
		a.callback.Close()
	}
}

// authorize decides a subscribe: a token of ours is checked here; anything
// else goes to the callback when there is one.
func (ls *loopState) authorize(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request, sub *subscription) {
	a := ls.s.auth
	token, hasToken := auth.BearerToken(req.Header("Authorization"))
	if !hasToken && len(sub.q.token) > 0 {
		token, hasToken = sub.q.token, true
	}
	if a.jwt != nil && hasToken {
		id, err := a.jwt.Verify(token, l.Now())
		if err == nil {
			ls.admit(l, h, c, sub, &id)
			return
		}
		if a.callback == nil {
			ls.refuseSubscribe(l, h, sub, 401, "token refused: "+err.Error())
			return
		}
		// Not a token of ours (or a bad one): the callback decides.
	}
	if a.callback == nil {
		ls.refuseSubscribe(l, h, sub, 401, "subscribing needs a token: Authorization: Bearer <token> or ?token=<token>")
		return
	}
	call := newAuthCall(l, h, req, sub)
	c.mode = modeAsync
	if !a.workers.submit(func() { a.ask(call) }) {
		c.mode = modeRequest
		ls.answerSubscribe(l, h, sub, 503, "too many subscribes waiting for --auth-url; retry")
	}
}

// admit checks what auth established against what the subscribe asks for,
// then starts it: the user is auth's (a user= in the query must agree), and
// every topic asked for must be allowed by auth or by --topic-acl.
func (ls *loopState) admit(l *engine.Loop, h engine.Handle, c *connState, sub *subscription, id *auth.Identity) {
	a := ls.s.auth
	user := viewBytes(id.User)
	if len(user) > 0 && !validName(user) {
		a.failed.Add(1)
		ls.answerSubscribe(l, h, sub, 502, "auth gave a user that is not 1-256 printable bytes without spaces")
		return
	}
	if len(sub.q.user) > 0 && string(sub.q.user) != id.User {
		ls.refuseSubscribe(l, h, sub, 403, "user= must be left out or be the user auth established")
		return
	}
	for _, t := range sub.q.topics {
		if !id.Allows(t) && !a.acl.Allows(user, t) {
			ls.refuseSubscribe(l, h, sub, 403, "topic "+strconv.Quote(string(t))+" is not allowed for this subscriber")
			return
		}
	}
	sub.q.user = user
	ls.start(l, h, c, sub)
}

// refuseSubscribe answers a denied subscribe (counted).
func (ls *loopState) refuseSubscribe(l *engine.Loop, h engine.Handle, sub *subscription, status int, reason string) {
	ls.s.auth.denied.Add(1)
	ls.answerSubscribe(l, h, sub, status, reason)
}

// answerSubscribe answers a subscribe that does not start with status and a
// JSON error.
func (ls *loopState) answerSubscribe(l *engine.Loop, h engine.Handle, sub *subscription, status int, reason string) {
	ls.out = appendErrorResponse(ls.out[:0], status, reason, sub.persist)
	l.Write(h, ls.out)
}

// An authCall is a subscribe waiting for the callback's answer. It owns
// copies of everything the request said, since the request is gone.
type authCall struct {
	from    engine.Handle
	req     auth.CallbackRequest
	sub     subscription
	q       queryParams // sub.q: copies of the user and topics asked for
	verdict auth.Verdict
	err     error
}

func newAuthCall(l *engine.Loop, h engine.Handle, req *httpcodec.Request, sub *subscription) *authCall {
	call := &authCall{from: h, sub: *sub}
	call.sub.q = &call.q
	call.q.user = clone(sub.q.user)
	call.q.topics = make([][]byte, len(sub.q.topics))
	for i, t := range sub.q.topics {
		call.q.topics[i] = clone(t)
	}
	call.req = auth.CallbackRequest{
		Cookie:        clone(req.Header("Cookie")),
		Authorization: clone(req.Header("Authorization")),
		XForwardedFor: forwardedFor(l, h, req.Header("X-Forwarded-For")),
		OriginalURI:   clone(req.Target()),
	}
	return call
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// forwardedFor is the X-Forwarded-For the callback gets: the client's own,
// with the address the client connected from added (as nginx's
// $proxy_add_x_forwarded_for).
func forwardedFor(l *engine.Loop, h engine.Handle, theirs []byte) []byte {
	peer, ok := l.PeerAddr(h)
	if !ok {
		return clone(theirs)
	}
	out := append([]byte(nil), theirs...)
	if len(out) > 0 {
		out = append(out, ", "...)
	}
	return peer.AppendTo(out)
}

// ask runs on a worker: it asks the callback and hands the verdict to the
// subscriber's loop.
func (a *authorizer) ask(call *authCall) {
	call.verdict, call.err = a.callback.Check(&call.req)
	a.s.eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: opAuthDone, V: call})
}

// authDone runs on the subscriber's loop with the callback's verdict.
func (ls *loopState) authDone(l *engine.Loop, call *authCall) {
	h := call.from
	c := ls.live(h)
	if c == nil || c.mode != modeAsync {
		return // the subscriber left while the callback was asked
	}
	c.mode = modeRequest
	sub := &call.sub
	switch v := &call.verdict; {
	case ls.s.draining.Load():
		// The drain's reconnect frames went out while this subscribe waited.
		sub.persist = persistClose
		ls.answerSubscribe(l, h, sub, 503, "node is draining; reconnect elsewhere")
	case call.err != nil:
		ls.s.auth.failed.Add(1)
		ls.answerSubscribe(l, h, sub, 502, "auth callback failed: "+call.err.Error())
	case v.Status == 401 || v.Status == 403:
		ls.refuseSubscribe(l, h, sub, v.Status, "subscribe refused by the auth callback")
	default:
		ls.admit(l, h, c, sub, &v.Identity)
	}
	switch {
	case c.mode == modeRequest && !sub.persist.keep():
		c.mode = modeClosing
		l.CloseAfterFlush(h)
	case c.mode == modeRequest:
		ls.setTimer(c, timerIdle, l.Now().Add(keepAliveIdle))
		l.Resume(h) // requests pipelined behind the subscribe
	case c.mode == modeStream:
		l.Resume(h) // bytes sent meanwhile count as stream noise
	}
}
