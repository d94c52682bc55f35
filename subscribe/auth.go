package subscribe

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
)

// authorizer allows or refuses subscribes (SPEC §6). A token is checked on
// the loop (an HMAC, microseconds); a callback is asked by a few worker
// goroutines, never by a loop, while the subscriber's connection waits in
// modeAsync. Nothing of it stays with a connection once it is allowed.
type authorizer struct {
	s        *Subscribing
	jwt      *auth.JWTVerifier // --jwt-secret; nil without
	callback *auth.Callback    // --auth-url; nil without
	acl      *auth.ACL         // --topic-acl; allows nothing when empty

	workers *route.Pool // ask the callback; the subscribers wait in modeAsync

	closing atomic.Bool   // Server.Close began: workers ask no more
	Denied  atomic.Uint64 // subscribes refused with 401 or 403
	Failed  atomic.Uint64 // callbacks that gave no usable answer (502)
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

// NewAuthorizer builds the authorizer the settings ask for; nil when they
// configure no subscriber auth.
func NewAuthorizer(s *Subscribing) (*authorizer, error) {
	cfg := &s.Cfg
	if cfg.AuthURL == "" && cfg.JWTSecret == "" {
		return nil, nil
	}
	a := &authorizer{s: s, workers: route.NewPool(authWorkers, authQueue, authWorkerLinger)}
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
		a.callback, err = auth.NewCallback(auth.CallbackOptions{URL: cfg.AuthURL, Timeout: cfg.AuthTimeout, Logger: s.Log})
		if err != nil {
			return nil, fmt.Errorf("--auth-url: %w", err)
		}
	}
	return a, nil
}

// Close runs after the loops stopped: queued subscribes are not asked about
// any more, callbacks in flight end within --auth-timeout, and the idle
// connections to the auth service go.
func (a *authorizer) Close() {
	a.closing.Store(true)
	a.workers.Close()
	if a.callback != nil {
		a.callback.Close()
	}
}

// Authorize decides a subscribe: a token of ours is checked here; anything
// else goes to the callback when there is one.
// The request is read through requestHeaders: an HTTP/1.x request, or an
// HTTP/2 stream's (sub.stream set, c nil: the stream record waits, not the
// connection).
func (ls *SubLoop) Authorize(l *engine.Loop, h engine.Handle, c *edge.ConnState, req requestHeaders, sub *Subscription) {
	a := ls.s.Auth
	token, hasToken := auth.BearerToken(req.Header("Authorization"))
	if !hasToken && len(sub.Q.Token) > 0 {
		token, hasToken = sub.Q.Token, true
	}
	if a.jwt != nil && hasToken {
		id, err := a.jwt.Verify(token, l.Now())
		if err == nil {
			ls.admit(l, h, c, sub, &id, false)
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
	call := newAuthCall(l, h, req, sub, ls.s.Cfg.AuthTimeout)
	if c != nil {
		c.Mode = edge.ModeAsync
	}
	if !a.workers.Submit(func() { a.ask(call) }) {
		if c != nil {
			c.Mode = edge.ModeRequest
		}
		ls.AnswerSubscribe(l, h, sub, 503, "too many subscribes waiting for --auth-url; retry")
	}
}

// admit checks what auth established against what the subscribe asks for,
// then starts it: the user is auth's (a user= in the query must agree), and
// every topic asked for must be allowed by auth or by --topic-acl.
//
// A user that is no valid name is the token's fault (401) or the callback's
// (502, fromCallback).
func (ls *SubLoop) admit(l *engine.Loop, h engine.Handle, c *edge.ConnState, sub *Subscription, id *auth.Identity, fromCallback bool) {
	a := ls.s.Auth
	user := publish.ViewBytes(id.User)
	if len(user) > 0 && !push.ValidName(user) {
		if fromCallback {
			a.Failed.Add(1)
			ls.AnswerSubscribe(l, h, sub, 502, "the auth callback gave a user that is not 1-256 printable bytes without spaces")
		} else {
			ls.refuseSubscribe(l, h, sub, 401, "token refused: its sub is not 1-256 printable bytes without spaces")
		}
		return
	}
	if len(sub.Q.User) > 0 && string(sub.Q.User) != id.User {
		ls.refuseSubscribe(l, h, sub, 403, "user= must be left out or be the user auth established")
		return
	}
	for i, t := range sub.Q.Topics {
		if !id.Allows(t) && !a.acl.Allows(user, t) {
			// Named by its place in the query: errors never echo client bytes.
			ls.refuseSubscribe(l, h, sub, 403, "topic "+strconv.Itoa(i+1)+" of the query is not allowed for this subscriber")
			return
		}
	}
	sub.Q.User = user
	sub.id = id
	switch {
	case !id.Expires.IsZero():
		sub.expires = id.Expires.UnixMilli()
	case id.TTL > 0:
		sub.expires = l.Now().Add(id.TTL).UnixMilli()
	}
	ls.Start(l, h, c, sub)
}

// refuseSubscribe answers a denied subscribe (counted).
func (ls *SubLoop) refuseSubscribe(l *engine.Loop, h engine.Handle, sub *Subscription, status int, reason string) {
	ls.s.Auth.Denied.Add(1)
	ls.AnswerSubscribe(l, h, sub, status, reason)
}

// AnswerSubscribe answers a subscribe that does not start with status and a
// JSON error, with the CORS headers a stream would have had (so that a page
// on another origin can read why) and, for a 401, the scheme to use.
func (ls *SubLoop) AnswerSubscribe(l *engine.Loop, h engine.Handle, sub *Subscription, status int, reason string) {
	dst := httpcodec.AppendResponseHead(ls.Out[:0], status, sub.Persist)
	dst = ls.s.AppendCORS(dst, sub.origin)
	if status == 401 {
		dst = httpcodec.AppendHeader(dst, "WWW-Authenticate", "Bearer")
	}
	ls.Frame = httpcodec.AppendErrorObject(ls.Frame[:0], reason)
	ls.Out = httpcodec.AppendBody(dst, "application/json", ls.Frame)
	if sub.Head {
		ls.Out = edge.HeadOnly(ls.Out)
	}
	if sub.Stream != 0 {
		ls.s.SubGlue.H2Finish(l, sub.Stream, ls.Out, false)
		return
	}
	l.Write(h, ls.Out)
}

// requestHeaders is what auth reads of a subscribe request: an HTTP/1.x
// request (*httpcodec.Request) or an HTTP/2 one (*h2.Request).
type requestHeaders interface {
	Header(name string) []byte
	Target() []byte
}

// An authCall is a subscribe waiting for the callback's answer. It owns
// copies of everything the request said, since the request is gone.
type AuthCall struct {
	from    engine.Handle
	req     auth.CallbackRequest
	sub     Subscription
	q       edge.QueryParams // sub.q: copies of the user and topics asked for
	verdict auth.Verdict
	err     error
}

func newAuthCall(l *engine.Loop, h engine.Handle, req requestHeaders, sub *Subscription, timeout time.Duration) *AuthCall {
	call := &AuthCall{from: h, sub: *sub}
	call.sub.Q = call.q.CopyOf(sub.Q)
	call.req = auth.CallbackRequest{
		Cookie:        clone(req.Header("Cookie")),
		Authorization: clone(req.Header("Authorization")),
		XForwardedFor: forwardedFor(l, h, req.Header("X-Forwarded-For")),
		OriginalURI:   clone(req.Target()),
		Deadline:      l.Now().Add(timeout),
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
func (a *authorizer) ask(call *AuthCall) {
	switch {
	case a.closing.Load():
		return // the loops are stopped: nobody waits for the verdict
	case !time.Now().Before(call.req.Deadline):
		call.err = errAuthQueueTimeout // --auth-timeout covers the wait for a worker too
	default:
		call.verdict, call.err = a.callback.Check(&call.req)
	}
	a.s.Eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: OpAuthDone, V: call})
}

var errAuthQueueTimeout = errors.New("auth callback not asked: no worker was free within --auth-timeout")

// AuthDone runs on the subscriber's loop with the callback's verdict.
func (ls *SubLoop) AuthDone(l *engine.Loop, call *AuthCall) {
	ls.ResumeSubscribe(l, call.from, &call.sub, func(c *edge.ConnState) { ls.answerVerdict(l, call.from, c, call) })
}

// ResumeSubscribe answers, with answer, a subscribe that waited off the
// loop (for the auth callback, or the per-user policy's Redis), when its
// subscriber still waits (it reports false when not), then has its
// connection carry on as the answer left it. sub.stream is the HTTP/2
// stream that asked, 0 for HTTP/1.x connection h (whose connState answer
// gets).
func (ls *SubLoop) ResumeSubscribe(l *engine.Loop, h engine.Handle, sub *Subscription, answer func(c *edge.ConnState)) bool {
	if sub.Stream != 0 { // an HTTP/2 stream asked (h2edge/requests.go)
		if st := ls.Stream(sub.Stream); st != nil && st.Mode == edge.ModeAsync {
			answer(nil)
			return true
		}
		return false
	}
	c := ls.Live(h)
	if c == nil || c.Mode != edge.ModeAsync {
		return false // the subscriber left while it waited
	}
	c.Mode = edge.ModeRequest
	// The answer to h's own request, made away from its OnData: a stream's
	// replay may be as large as one started inline.
	l.Answer(h, func() { answer(c) })
	switch {
	case c.Mode == edge.ModeRequest && !sub.Persist.Keep():
		c.Mode = edge.ModeClosing
		l.CloseAfterFlush(h)
	case c.Mode == edge.ModeRequest:
		ls.SetTimer(c, edge.TimerIdle, l.Now().Add(edge.KeepAliveIdle))
		l.Resume(h) // requests pipelined behind the subscribe
	case c.Mode == edge.ModeStream:
		l.Resume(h) // bytes sent meanwhile count as stream noise
	}
	return true
}

// answerVerdict answers or starts a subscribe with the callback's verdict.
func (ls *SubLoop) answerVerdict(l *engine.Loop, h engine.Handle, c *edge.ConnState, call *AuthCall) {
	sub := &call.sub
	switch v := &call.verdict; {
	case ls.s.Draining.Load():
		// The drain's reconnect frames went out while this subscribe waited.
		sub.Persist = httpcodec.PersistClose
		ls.AnswerSubscribe(l, h, sub, 503, "node is draining; reconnect elsewhere")
	case call.err != nil:
		// The cause is the node's business (the callback logs it); the
		// client learns only that auth could not decide.
		ls.s.Auth.Failed.Add(1)
		if ls.s.Debug {
			ls.s.Log.Debug("subscribe not authorized", "err", call.err)
		}
		ls.AnswerSubscribe(l, h, sub, 502, "the auth service gave no usable answer; retry")
	case v.Status == 401 || v.Status == 403:
		ls.refuseSubscribe(l, h, sub, v.Status, "subscribe refused by the auth callback")
	default:
		ls.admit(l, h, c, sub, &v.Identity, true)
	}
}
