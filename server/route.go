package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// A routeJob is a publish request (single or batch) whose pushes have been
// delivered locally and must still reach other nodes. The router finishes
// each push's result and sends the whole answer back to the publisher's loop.
type routeJob struct {
	from      engine.Handle
	keepAlive persist
	batch     bool
	results   []pushResult
	items     []routeItem
	keyed     *keyedCall // its keys are recorded before the answer goes (idempotency.go)
}

type routeItem struct {
	index int // into results
	kind  push.Kind
	node  string // conn pushes: the node holding the key
	msg   *message
	store bool // a QoS 1 user push: store it in Redis before anything else
}

func (cn *clusterNode) run(job *routeJob) {
	now := time.Now()
	lookup, ctx := cn.lookupBound.at(now), cn.forwardBound.at(now)
	perNode := map[string][]int{}
	for i := range job.items {
		it := &job.items[i]
		res := &job.results[it.index]
		if it.store {
			if err := cn.s.store.put(ctx, it.msg); err != nil {
				res.status, res.err = 503, "QoS 1 message not stored: "+err.Error()
				continue
			}
			res.stored = true
		}
		nodes, err := cn.nodesFor(lookup, it)
		switch {
		case err == nil:
		case it.kind == push.Conn && errors.Is(err, cluster.ErrUnknownNode):
			// The key's node is gone: nobody holds it, even if a link to
			// it has not noticed yet.
			nodes = nil
		default:
			// The directory is down: the nodes it last named (but this one)
			// may hold the target and are not reached; a push that reached
			// nobody is a 503 (below), one delivered here stays a 200.
			if it.kind == push.Conn {
				res.unreachable = append(res.unreachable, it.node)
			} else {
				res.unreachable = cn.otherKnown(it, res.unreachable)
			}
			res.failure = "cluster directory unavailable, and the target is not on this node: " + err.Error()
			nodes = nil
		}
		for _, n := range nodes {
			if n != cn.s.nodeID {
				perNode[n] = append(perNode[n], i)
			}
		}
	}
	var mu sync.Mutex
	forward := func(node string, idxs []int) {
		pushes := make([]*cluster.Push, len(idxs))
		for k, i := range idxs {
			pushes[k] = clusterPush(job.items[i].msg, job.items[i].kind)
		}
		results, err := cn.links.ForwardBatch(ctx, node, pushes)
		cn.forwards.Add(uint64(len(pushes)))
		mu.Lock()
		defer mu.Unlock()
		for k, i := range idxs {
			it := &job.items[i]
			res := &job.results[it.index]
			var r cluster.Result
			if k < len(results) {
				r = results[k]
			}
			if err != nil && k >= len(results) {
				r.Err = err.Error()
			}
			switch {
			case err != nil && it.kind == push.Conn && errors.Is(err, cluster.ErrUnknownNode):
			case r.Err != "" && errors.Is(err, cluster.ErrNodeGone):
				// Refused or reset: no process there, so it holds no live
				// connection. Named, but no failure (SPEC §4).
				res.unreachable = append(res.unreachable, node)
			case r.Err != "":
				res.unreachable = append(res.unreachable, node)
				res.addFailure("node " + node + " not reached: " + r.Err)
			default:
				res.delivered += r.Delivered
				if r.Delivered > 0 {
					res.nodes++
				}
			}
			if cn.s.debug {
				cn.s.log.Debug("hop: forwarded", "trace", it.msg.Seq, "to", node, "delivered", r.Delivered, "err", err)
			}
		}
	}
	// One node to reach (the common case: a key's node, a user on one other
	// node) is forwarded right here: a goroutine each pays a hand-off only
	// when several nodes can be waited on in parallel.
	if len(perNode) == 1 {
		for node, idxs := range perNode {
			forward(node, idxs)
		}
	} else {
		var wg sync.WaitGroup
		for node, idxs := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				forward(node, idxs)
			}()
		}
		wg.Wait()
	}
	for i := range job.items {
		it := &job.items[i]
		finishRouted(&job.results[it.index], it.kind)
		it.msg.Release()
	}
	if k := job.keyed; k != nil {
		cn.recordKeys(k.keys, k.claims, job.results)
	}
	cn.s.answerRouted(job)
}

// sharedDeadline hands out contexts that end d after about now, one per
// sharedDeadlineStep: the routing jobs that start together share one timer.
// A context timer per job and another per directory lookup were ~10% of a
// cross-node publish's CPU (pushbench cluster profile, 2026-11-21).
type sharedDeadline struct {
	d      time.Duration
	mu     sync.Mutex
	made   time.Time
	ctx    context.Context
	cancel context.CancelFunc // ends by its deadline; kept only for vet
}

const sharedDeadlineStep = 10 * time.Millisecond

func (s *sharedDeadline) at(now time.Time) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || now.Sub(s.made) >= sharedDeadlineStep {
		s.ctx, s.cancel = context.WithDeadline(context.Background(), now.Add(s.d))
		s.made = now
	}
	return s.ctx
}

// nodesFor looks up the nodes a push must reach, this one included or not.
func (cn *clusterNode) nodesFor(ctx context.Context, it *routeItem) ([]string, error) {
	var nodes []string
	var err error
	switch to := string(it.msg.To); it.kind {
	case push.Conn:
		_, err = cn.dir.NodeAddr(ctx, it.node)
		return []string{it.node}, err
	case push.User:
		nodes, err = cn.dir.UserNodes(ctx, to[len("user:"):])
	case push.Topic:
		nodes, err = cn.dir.TopicNodes(ctx, to[len("topic:"):])
	default:
		var all []cluster.Node
		all, err = cn.dir.Nodes(ctx)
		for _, n := range all {
			nodes = append(nodes, n.ID)
		}
	}
	if err == nil {
		cn.remember(string(it.msg.To), nodes)
	}
	return nodes, err
}

func (cn *clusterNode) remember(to string, nodes []string) {
	cn.knownMu.Lock()
	defer cn.knownMu.Unlock()
	if len(cn.known) >= maxKnown {
		clear(cn.known)
	}
	cn.known[to] = nodes
}

// otherKnown appends the nodes other than this one that the directory last
// said hold the push's target (none when it was never asked).
func (cn *clusterNode) otherKnown(it *routeItem, dst []string) []string {
	cn.knownMu.Lock()
	defer cn.knownMu.Unlock()
	for _, n := range cn.known[string(it.msg.To)] {
		if n != cn.s.nodeID {
			dst = append(dst, n)
		}
	}
	return dst
}

// clusterPush is m as a link frame carries it, its address kind included so
// the peer does not parse it again.
func clusterPush(m *message, kind push.Kind) *cluster.Push {
	return &cluster.Push{Trace: m.Seq, ID: string(m.ID), To: string(m.To), Event: string(m.Event),
		ContentType: string(m.ContentType), JSON: m.JSON, QoS: m.QoS, Kind: uint8(kind) + 1, Data: m.Data}
}

// answerRouted writes a routed job's answer on the publisher's loop.
func (s *Server) answerRouted(job *routeJob) {
	var body []byte
	if job.batch {
		for i := range job.results {
			body = appendPushResult(body, &job.results[i], true)
			body = append(body, '\n')
		}
		body = appendBody(appendResponseHead(nil, 200, job.keepAlive), "application/x-ndjson", body)
	} else {
		r := &job.results[0]
		body = appendJSONResponse(nil, r.status, job.keepAlive, appendPushResult(nil, r, false))
	}
	call := &asyncCall{from: job.from, keepAlive: job.keepAlive, reply: body}
	s.eng.Submit(job.from.Loop(), engine.Task{H: job.from, Op: opAsyncReply, V: call})
}
