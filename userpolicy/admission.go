package userpolicy

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/subscribe"
)

// The per-user connection policy (SPEC §7): --max-conns-per-user N and
// --user-conn-policy oldest-out|refuse. Every stream of a user (HTTP/1.x or
// HTTP/2; long-polls come and go and are not counted) is entered, under its
// conn key and start time, in a admit.UserConns before it starts: in
// memory standalone (exact: one mutex), in Redis in a cluster (one atomic
// script per stream start, so streams of one user arriving on two nodes at
// once are ordered by Redis and at most N are ever admitted). Under refuse
// the stream that would be the N+1th is answered 409 before it starts;
// under oldest-out it starts and the oldest streams of the user, on
// whichever node, get the kicked control frame and are closed (kickKeys).
//
// In a cluster the subscribe waits off the loop for Redis, as for an auth
// callback (the connection or HTTP/2 stream in modeAsync). When Redis
// cannot be reached the stream is admitted (the node keeps serving, as its
// pushes do) and the policy is not applied to it.

// userPolicyTimeout bounds the Redis admission of one stream; queryTimeout
// a question to another node (a kick, whether it holds a stream), as
// presence's (admin/presence.go).
const (
	userPolicyTimeout = time.Second
	queryTimeout      = time.Second
)

// A userCall is a subscribe waiting for its admission in Redis. It owns
// copies of what the request said, as an authCall does.
type userCall struct {
	from engine.Handle
	sub  subscribe.Subscription
	q    edge.QueryParams
	user string
	key  string    // the conn key the stream will have
	r    [2]uint64 // its random bits
	atMs int64
	adm  admit.Admission
	err  error
	pk   *pendingKey // in p.pending while it waits for its start (pending.go)
}

// GateUser applies the policy to a subscribe about to start; true when it
// took the subscribe over (refused it, or waits for Redis).
func (ls *UserLoop) GateUser(l *engine.Loop, h engine.Handle, c *edge.ConnState, sn *subscribe.Subscription) bool {
	p := ls.p
	if p.users == nil || sn.Gated || sn.Head || sn.Format == push.Poll || len(sn.Q.User) == 0 {
		return false
	}
	if sn.Stream != 0 && ls.Stream(sn.Stream) == nil {
		return false // reset while auth decided: h2Start drops it
	}
	sub := sn.Stream
	if sub == 0 {
		sub = conntable.ConnSub(conntable.Handle(h))
	}
	r := [2]uint64{ls.Rng.Uint64(), ls.Rng.Uint64()}
	key := string(p.AppendKeyText(nil, edge.ConnKey{Sub: sub, R: r}))
	atMs := l.Now().UnixMilli()
	if p.c.Redis == nil { // in memory: decided here and now
		adm, _ := p.users.Admit(context.Background(), string(sn.Q.User), key, atMs, p.Cfg.MaxConnsPerUser, p.Cfg.UserConnPolicy == edge.PolicyRefuse, nil)
		if adm.Refused {
			ls.refuseUser(l, h, sn)
			return true
		}
		p.kickLocal(adm.Evicted)
		ls.PresetKey = r
		return false
	}
	call := &userCall{from: h, sub: *sn, user: string(sn.Q.User), key: key, r: r, atMs: atMs}
	call.sub.Q = call.q.CopyOf(sn.Q)
	if c != nil {
		c.Mode = edge.ModeAsync
	}
	if !p.c.Submit(func() { p.admitUser(call) }) {
		if c != nil {
			c.Mode = edge.ModeRequest
		}
		ls.AnswerSubscribe(l, h, sn, 503, "too many subscribes waiting for the directory; retry")
	}
	return true
}

// refuseUser answers a subscribe the refuse policy turned away.
func (ls *UserLoop) refuseUser(l *engine.Loop, h engine.Handle, sn *subscribe.Subscription) {
	ls.p.UserRefused.Add(1)
	ls.AnswerSubscribe(l, h, sn, 409, "this user already holds --max-conns-per-user ("+strconv.Itoa(ls.p.Cfg.MaxConnsPerUser)+") streams and --user-conn-policy is refuse")
}

// admitUser runs on a router goroutine: it enters the stream in Redis and
// hands the outcome to the subscriber's loop. A refusal that counted keys
// whose streams no node holds any more (a leave lost while Redis was away,
// or a previous process of a node id) drops them and asks again; keys
// admitted whose streams are not registered yet are pending, not stale.
func (p *Policy) admitUser(call *userCall) {
	ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
	defer cancel()
	call.pk = &pendingKey{}
	p.pending.Store(call.key, call.pk)
	defer p.pending.Delete(call.key)
	var live []string
	nodes, err := p.c.Dir.Nodes(ctx)
	for _, n := range nodes {
		live = append(live, n.ID)
	}
	if !slices.Contains(live, p.ID) {
		live = append(live, p.ID) // this node, even before its first heartbeat lands
	}
	if err == nil {
		refuse := p.Cfg.UserConnPolicy == edge.PolicyRefuse
		for try := 0; try < 2; try++ {
			call.adm, err = p.users.Admit(ctx, call.user, call.key, call.atMs, p.Cfg.MaxConnsPerUser, refuse, live)
			if err != nil || !call.adm.Refused {
				break
			}
			stale := p.staleKeys(call.adm.Held)
			if len(stale) == 0 {
				break
			}
			if err = p.users.Leave(ctx, call.user, stale...); err != nil {
				break
			}
		}
	}
	call.err = err
	if err != nil && p.Debug {
		p.Log.Debug("per-user policy not applied: redis unavailable", "err", err)
	}
	done := make(chan bool, 1)
	p.Eng.Submit(call.from.Loop(), engine.Task{Op: edge.OpRun, V: func(l *engine.Loop) {
		done <- p.loops[l.Index()].userAdmitted(l, call)
	}})
	if err != nil {
		return
	}
	p.kickKeys(call.adm.Evicted)
	select {
	case started := <-done:
		if !started && !call.adm.Refused { // it left meanwhile, or the node drains: its key goes
			ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
			defer cancel()
			p.users.Leave(ctx, call.user, call.key)
		}
	case <-time.After(userPolicyTimeout): // the node is stopping
	}
}

// staleKeys returns the keys among keys whose streams no node holds: this
// node's are checked in its table, other nodes' are asked of them
// (QueryHolds, at once, each within the query bound). A key whose node does
// not answer is kept: it may live.
func (p *Policy) staleKeys(keys []string) []string {
	gone := make([]bool, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		_, node, ok := edge.ParseKeyText([]byte(key))
		switch {
		case !ok:
		case node == nil || string(node) == p.ID:
			gone[i] = p.Holds(key) == 0
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
				defer cancel()
				a, err := p.c.Ask(ctx, string(node), &links.Query{Op: links.QueryHolds, Conn: true, Name: key})
				gone[i] = (err == nil && a.Err == "" && a.Count == 0) || errors.Is(err, cluster.ErrUnknownNode)
			}()
		}
	}
	wg.Wait()
	var stale []string
	for i, key := range keys {
		if gone[i] {
			stale = append(stale, key)
		}
	}
	return stale
}

// Holds is 1 when the stream key names lives on this node, or was admitted
// here and is about to start; else 0. Any goroutine may call it.
func (p *Policy) Holds(key string) int {
	if _, pending := p.pending.Load(key); pending {
		return 1
	}
	k, node, ok := edge.ParseKeyText([]byte(key))
	if !ok || (node != nil && string(node) != p.ID) {
		return 0
	}
	if _, live := p.LookupKey(k); live {
		return 1
	}
	return 0
}

// userAdmitted runs on the subscriber's loop with the admission; false
// when the stream did not start (its subscriber left meanwhile, it was
// refused, or the node began to drain: then it is answered 503, as a
// subscribe that waited for the auth callback is).
func (ls *UserLoop) userAdmitted(l *engine.Loop, call *userCall) bool {
	started := false
	ls.ResumeSubscribe(l, call.from, &call.sub, func(c *edge.ConnState) {
		switch {
		case call.err == nil && call.adm.Refused:
			ls.refuseUser(l, call.from, &call.sub)
		case ls.p.Draining.Load():
			call.sub.Persist = httpcodec.PersistClose
			ls.AnswerSubscribe(l, call.from, &call.sub, 503, "node is draining; reconnect elsewhere")
		default:
			call.sub.Gated = true
			ls.PresetKey = call.r
			ls.Start(l, call.from, c, &call.sub)
			started = true
			ls.startedPending(l, call)
		}
	})
	return started
}

// kickLocal kicks the streams of this node that keys name, each on its loop.
func (p *Policy) kickLocal(keys []string) {
	for _, key := range keys {
		k, node, ok := edge.ParseKeyText([]byte(key))
		if !ok || (node != nil && string(node) != p.ID) {
			continue
		}
		if p.KickPending(key) {
			continue // its loop kicks it once started (pending.go)
		}
		if sub, ok := p.LookupKey(k); ok {
			p.UserEvicted.Add(1)
			p.Eng.Submit(sub.Loop(), engine.Task{H: engine.Handle(sub), Op: OpKick})
		}
	}
}

// kickKeys kicks the streams keys name, here or on their nodes (QueryKick
// over the query links; one refused or unanswered is asked again,
// kickretry.go). It runs off the loops.
func (p *Policy) kickKeys(keys []string) {
	for _, key := range keys {
		_, node, ok := edge.ParseKeyText([]byte(key))
		switch {
		case !ok:
		case node == nil || string(node) == p.ID:
			p.kickLocal([]string{key})
		case !p.kickRemote(string(node), key):
			p.retryKick(string(node), key) // refused (the node upgrades) or unanswered (kickretry.go)
		}
	}
}

// StreamLeft takes a stream that ends out of the policy's count (and its
// auth record, subscribe/allowsets.go). It runs first in leave, while the stream
// still has its key and user.
func (ls *UserLoop) StreamLeft(sub conntable.Sub, s *edge.SubState) {
	ls.ForgetAllowed(sub)
	p := ls.p
	if p.users == nil || !s.HasUser || s.Format == push.Poll {
		return
	}
	user := string(ls.SubUser(s))
	key := string(p.AppendKeyText(nil, ls.KeyOf(sub)))
	if p.c.Redis == nil {
		p.users.Leave(context.Background(), user, key)
		return
	}
	p.queueLeave(user, key) // never dropped for a busy router (leaves.go)
}

// CountAdopted enters in an in-memory count the streams an upgrade handed
// over (SIGUSR2), which the old process counted; a count in Redis still
// holds them (the node id and the conn keys survive an upgrade). Their start
// times are not handed over: they count as begun now. Nothing is refused or
// kicked for them. It runs once the cluster half exists, before the loops
// start.
func (p *Policy) CountAdopted(now time.Time) {
	if p.users == nil || p.c.Redis != nil {
		return
	}
	var keys []admit.HeldKey
	for _, ls := range p.loops {
		ls.eachUserStream(func(user, key string) {
			keys = append(keys, admit.HeldKey{User: user, Key: key, AtMs: now.UnixMilli()})
		})
	}
	p.users.Reenter(context.Background(), keys)
}
