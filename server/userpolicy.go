package server

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// The per-user connection policy (SPEC §7): --max-conns-per-user N and
// --user-conn-policy oldest-out|refuse. Every stream of a user (HTTP/1.x or
// HTTP/2; long-polls come and go and are not counted) is entered, under its
// conn key and start time, in a cluster.UserConns before it starts: in
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

// The values of --user-conn-policy; oldest-out is the default.
const (
	policyOldestOut = "oldest-out"
	policyRefuse    = "refuse"
)

// userPolicyTimeout bounds the Redis admission of one stream; queryTimeout
// a question to another node (a kick, whether it holds a stream), as
// presence's (admin/presence.go).
const (
	userPolicyTimeout = time.Second
	queryTimeout      = time.Second
)

// newUserConns returns the node's UserConns: nil without
// --max-conns-per-user, in Redis with --redis, else in memory (per node).
func (cn *clusterNode) newUserConns() cluster.UserConns {
	switch {
	case cn.s.cfg.MaxConnsPerUser <= 0:
		return nil
	case cn.redis != nil:
		return cluster.NewUserConnsRedis(cn.redis, "")
	}
	return cluster.NewUserConnsMemory()
}

// A userCall is a subscribe waiting for its admission in Redis. It owns
// copies of what the request said, as an authCall does.
type userCall struct {
	from engine.Handle
	sub  subscription
	q    queryParams
	user string
	key  string    // the conn key the stream will have
	r    [2]uint64 // its random bits
	atMs int64
	adm  cluster.Admission
	err  error
	pk   *pendingKey // in cn.pending while it waits for its start (userpending.go)
}

// gateUser applies the policy to a subscribe about to start; true when it
// took the subscribe over (refused it, or waits for Redis).
func (ls *loopState) gateUser(l *engine.Loop, h engine.Handle, c *connState, sn *subscription) bool {
	cn := ls.s.cluster
	if cn.users == nil || sn.gated || sn.head || sn.format == push.Poll || len(sn.q.user) == 0 {
		return false
	}
	if sn.stream != 0 && ls.stream(sn.stream) == nil {
		return false // reset while auth decided: h2Start drops it
	}
	sub := sn.stream
	if sub == 0 {
		sub = conntable.ConnSub(conntable.Handle(h))
	}
	r := [2]uint64{ls.rng.Uint64(), ls.rng.Uint64()}
	key := string(ls.s.appendKeyText(nil, connKey{sub, r}))
	atMs := l.Now().UnixMilli()
	if cn.redis == nil { // in memory: decided here and now
		adm, _ := cn.users.Admit(context.Background(), string(sn.q.user), key, atMs, ls.s.cfg.MaxConnsPerUser, ls.s.cfg.UserConnPolicy == policyRefuse, nil)
		if adm.Refused {
			ls.refuseUser(l, h, sn)
			return true
		}
		ls.kickLocal(adm.Evicted)
		ls.presetKey = r
		return false
	}
	call := &userCall{from: h, sub: *sn, user: string(sn.q.user), key: key, r: r, atMs: atMs}
	call.sub.q = call.q.copyOf(sn.q)
	if c != nil {
		c.mode = modeAsync
	}
	if !cn.submit(func() { cn.admitUser(call) }) {
		if c != nil {
			c.mode = modeRequest
		}
		ls.answerSubscribe(l, h, sn, 503, "too many subscribes waiting for the directory; retry")
	}
	return true
}

// refuseUser answers a subscribe the refuse policy turned away.
func (ls *loopState) refuseUser(l *engine.Loop, h engine.Handle, sn *subscription) {
	ls.s.counters.userRefused.Add(1)
	ls.answerSubscribe(l, h, sn, 409, "this user already holds --max-conns-per-user ("+strconv.Itoa(ls.s.cfg.MaxConnsPerUser)+") streams and --user-conn-policy is refuse")
}

// admitUser runs on a router goroutine: it enters the stream in Redis and
// hands the outcome to the subscriber's loop. A refusal that counted keys
// whose streams no node holds any more (a leave lost while Redis was away,
// or a previous process of a node id) drops them and asks again; keys
// admitted whose streams are not registered yet are pending, not stale.
func (cn *clusterNode) admitUser(call *userCall) {
	ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
	defer cancel()
	call.pk = &pendingKey{}
	cn.pending.Store(call.key, call.pk)
	defer cn.pending.Delete(call.key)
	var live []string
	nodes, err := cn.dir.Nodes(ctx)
	for _, n := range nodes {
		live = append(live, n.ID)
	}
	if !slices.Contains(live, cn.s.nodeID) {
		live = append(live, cn.s.nodeID) // this node, even before its first heartbeat lands
	}
	if err == nil {
		refuse := cn.s.cfg.UserConnPolicy == policyRefuse
		for try := 0; try < 2; try++ {
			call.adm, err = cn.users.Admit(ctx, call.user, call.key, call.atMs, cn.s.cfg.MaxConnsPerUser, refuse, live)
			if err != nil || !call.adm.Refused {
				break
			}
			stale := cn.staleKeys(call.adm.Held)
			if len(stale) == 0 {
				break
			}
			if err = cn.users.Leave(ctx, call.user, stale...); err != nil {
				break
			}
		}
	}
	call.err = err
	if err != nil && cn.s.debug {
		cn.s.log.Debug("per-user policy not applied: redis unavailable", "err", err)
	}
	done := make(chan bool, 1)
	cn.s.eng.Submit(call.from.Loop(), engine.Task{Op: opRun, V: func(l *engine.Loop) {
		done <- cn.s.loops[l.Index()].userAdmitted(l, call)
	}})
	if err != nil {
		return
	}
	cn.kickKeys(call.adm.Evicted)
	select {
	case started := <-done:
		if !started && !call.adm.Refused { // it left meanwhile, or the node drains: its key goes
			ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
			defer cancel()
			cn.users.Leave(ctx, call.user, call.key)
		}
	case <-time.After(userPolicyTimeout): // the node is stopping
	}
}

// staleKeys returns the keys among keys whose streams no node holds: this
// node's are checked in its table, other nodes' are asked of them
// (QueryHolds, at once, each within the query bound). A key whose node does
// not answer is kept: it may live.
func (cn *clusterNode) staleKeys(keys []string) []string {
	gone := make([]bool, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		_, node, ok := parseKeyText([]byte(key))
		switch {
		case !ok:
		case node == nil || string(node) == cn.s.nodeID:
			gone[i] = cn.holds(key) == 0
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
				defer cancel()
				a, err := cn.presence.Ask(ctx, string(node), &cluster.Query{Op: cluster.QueryHolds, Conn: true, Name: key})
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

// holds is 1 when the stream key names lives on this node, or was admitted
// here and is about to start; else 0. Any goroutine may call it.
func (cn *clusterNode) holds(key string) int {
	if _, pending := cn.pending.Load(key); pending {
		return 1
	}
	k, node, ok := parseKeyText([]byte(key))
	if !ok || (node != nil && string(node) != cn.s.nodeID) {
		return 0
	}
	if _, live := cn.s.lookupKey(k); live {
		return 1
	}
	return 0
}

// userAdmitted runs on the subscriber's loop with the admission; false
// when the stream did not start (its subscriber left meanwhile, it was
// refused, or the node began to drain: then it is answered 503, as a
// subscribe that waited for the auth callback is).
func (ls *loopState) userAdmitted(l *engine.Loop, call *userCall) bool {
	started := false
	ls.resumeSubscribe(l, call.from, &call.sub, func(c *connState) {
		switch {
		case call.err == nil && call.adm.Refused:
			ls.refuseUser(l, call.from, &call.sub)
		case ls.s.draining.Load():
			call.sub.persist = httpcodec.PersistClose
			ls.answerSubscribe(l, call.from, &call.sub, 503, "node is draining; reconnect elsewhere")
		default:
			call.sub.gated = true
			ls.presetKey = call.r
			ls.start(l, call.from, c, &call.sub)
			started = true
			ls.startedPending(l, call)
		}
	})
	return started
}

// kickLocal kicks the streams of this node that keys name, each on its loop.
func (ls *loopState) kickLocal(keys []string) {
	for _, key := range keys {
		k, node, ok := parseKeyText([]byte(key))
		if !ok || (node != nil && string(node) != ls.s.nodeID) {
			continue
		}
		if ls.s.cluster.kickPending(key) {
			continue // its loop kicks it once started (userpending.go)
		}
		if sub, ok := ls.s.lookupKey(k); ok {
			ls.s.counters.userEvicted.Add(1)
			ls.s.eng.Submit(sub.Loop(), engine.Task{H: engine.Handle(sub), Op: opKick})
		}
	}
}

// kickKeys kicks the streams keys name, here or on their nodes (QueryKick
// over the query links). It runs off the loops.
func (cn *clusterNode) kickKeys(keys []string) {
	for _, key := range keys {
		_, node, ok := parseKeyText([]byte(key))
		switch {
		case !ok:
		case node == nil || string(node) == cn.s.nodeID:
			cn.s.loops[0].kickLocal([]string{key}) // kickLocal reads only the Server
		default:
			ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
			_, err := cn.presence.Ask(ctx, string(node), &cluster.Query{Op: cluster.QueryKick, Conn: true, Name: key})
			cancel()
			if err != nil && cn.s.debug {
				cn.s.log.Debug("per-user policy: oldest stream not kicked", "node", string(node), "err", err)
			}
		}
	}
}

// streamLeft takes a stream that ends out of the policy's count (and its
// auth record, allowsets.go). It runs first in leave, while the stream
// still has its key and user.
func (ls *loopState) streamLeft(sub conntable.Sub, s *subState) {
	ls.forgetAllowed(sub)
	cn := ls.s.cluster
	if cn == nil || cn.users == nil || !s.hasUser || s.format == push.Poll {
		return
	}
	user := string(ls.subUser(s))
	key := string(ls.s.appendKeyText(nil, ls.keyOf(sub)))
	if cn.redis == nil {
		cn.users.Leave(context.Background(), user, key)
		return
	}
	cn.queueLeave(user, key) // never dropped for a busy router (userleaves.go)
}

// countAdopted enters in an in-memory count the streams an upgrade handed
// over (SIGUSR2), which the old process counted; a count in Redis still
// holds them (the node id and the conn keys survive an upgrade). Their start
// times are not handed over: they count as begun now. Nothing is refused or
// kicked for them. It runs once the cluster half exists, before the loops
// start (only HTTP/1.x connections move; HTTP/2 ones reconnect).
func (s *Server) countAdopted(now time.Time) {
	cn := s.cluster
	if cn.users == nil || cn.redis != nil {
		return
	}
	for _, ls := range s.loops {
		for _, page := range ls.pages {
			for i := range page {
				c := &page[i]
				if c.h == 0 || c.mode != modeStream || !c.subscribed || !c.hasUser {
					continue
				}
				sub := conntable.ConnSub(conntable.Handle(c.h))
				key := string(s.appendKeyText(nil, ls.keyOf(sub)))
				cn.users.Admit(context.Background(), string(ls.subUser(&c.subState)), key, now.UnixMilli(), math.MaxInt, true, nil)
			}
		}
	}
}
