package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// clusterNode is a node's cluster half (SPEC §8): the Redis directory, the
// links to peers, the link server that takes their pushes, and the router
// goroutines that do everything that waits on Redis or a peer, so that no
// loop ever does.
type clusterNode struct {
	s      *Server
	dir    cluster.Directory
	links  *cluster.Links
	server *cluster.LinkServer
	ln     net.Listener
	store  *cluster.RedisStore // QoS 1 messages (SPEC §5: Redis in cluster mode)
	jobs   chan func()         // work that waits on Redis or a peer: run by the router
	wg     sync.WaitGroup

	forwards atomic.Uint64 // pushes forwarded to other nodes
	received atomic.Uint64 // pushes taken from other nodes

	// known is the last answer the directory gave for each user/topic, so
	// that while Redis is down a push knows whether other nodes should have
	// taken it (SPEC §8: local targets keep working, others answer 503).
	knownMu sync.Mutex
	known   map[string][]string
}

// maxKnown bounds the last-known answers kept; past it they are forgotten
// at once (they only refine the answers given while Redis is down).
const maxKnown = 1 << 16

// forwardTimeout bounds a forward, so a peer that holds its link open but
// never answers costs a 503, not a hung publisher.
const forwardTimeout = 2 * time.Second

// routerWorkers is how many routing jobs run at once. A job mostly waits on
// a peer's answer, and one job can carry a whole batch, so a few suffice;
// each job forwards to its nodes in parallel.
const routerWorkers = 8

func startCluster(s *Server) (*clusterNode, error) {
	cfg := &s.cfg
	ln, err := net.Listen("tcp", cfg.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("--cluster-listen %s: %w", cfg.ClusterListen, err)
	}
	advertise := cfg.Advertise
	if advertise == "" {
		advertise = advertiseFor(ln.Addr().(*net.TCPAddr))
	}
	dir, err := cluster.NewRedisDirectory(cluster.RedisOptions{
		URL:     cfg.Redis,
		Self:    cluster.Node{ID: s.nodeID, Addr: advertise},
		NodeTTL: cfg.NodeTTL,
		Logger:  s.log,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	cn := &clusterNode{s: s, dir: dir, ln: ln, jobs: make(chan func(), 4096), known: map[string][]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := dir.Start(ctx); err != nil {
		// Start keeps retrying in the background: the node serves its own
		// connections meanwhile and joins the cluster when Redis answers.
		s.log.Warn("redis directory not reachable yet; serving local connections", "err", err)
	}
	if cn.store, err = cluster.NewRedisStore(cluster.RedisStoreOptions{URL: cfg.Redis, Logger: s.log}); err != nil {
		ln.Close()
		dir.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	cn.links = cluster.NewLinks(s.nodeID, dir, cluster.LinkOptions{Logger: s.log})
	cn.server = cluster.NewLinkServer(cn.take, cluster.LinkServerOptions{Logger: s.log})
	cn.wg.Add(1 + routerWorkers)
	go func() {
		defer cn.wg.Done()
		if err := cn.server.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, cluster.ErrClosed) {
			s.log.Error("cluster link listener stopped", "err", err)
		}
	}()
	for range routerWorkers {
		go cn.route()
	}
	s.log.Info("cluster mode", "node", s.nodeID, "link", ln.Addr().String(), "advertise", advertise, "redis", cfg.Redis)
	return cn, nil
}

// advertiseFor turns a bound wildcard address into one a peer on this
// machine can dial; set --advertise for peers elsewhere.
func advertiseFor(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// close leaves the cluster: the directory entries of this node go first, so
// that peers stop routing here, then the links.
func (cn *clusterNode) close() {
	close(cn.jobs)
	cn.server.Close()
	cn.wg.Wait()
	cn.links.Close()
	cn.dir.Close()
	cn.store.Close()
}

// submit hands work to the router without ever blocking a loop; false
// when the router is saturated.
func (cn *clusterNode) submit(job func()) bool {
	select {
	case cn.jobs <- job:
		return true
	default:
		return false
	}
}

// joined and left mirror, into the directory, a user or topic gaining its
// first or losing its last connection on this node.
func (cn *clusterNode) joined(g conntable.Group, name []byte) {
	if g == conntable.Users {
		cn.dir.AddUser(string(name))
	} else {
		cn.dir.AddTopic(string(name))
	}
}

func (cn *clusterNode) left(g conntable.Group, name []byte) {
	if g == conntable.Users {
		cn.dir.RemoveUser(string(name))
	} else {
		cn.dir.RemoveTopic(string(name))
	}
}

// A routeJob is a publish request (single or batch) whose pushes have been
// delivered locally and must still reach other nodes. The router finishes
// each push's result and sends the whole answer back to the publisher's loop.
type routeJob struct {
	from      engine.Handle
	keepAlive persist
	batch     bool
	results   []pushResult
	items     []routeItem
}

type routeItem struct {
	index int // into results
	kind  addrKind
	node  string // conn pushes: the node holding the key
	msg   *message
	store bool // a QoS 1 user push: store it in Redis before anything else
}

// route runs the router's work until close.
func (cn *clusterNode) route() {
	defer cn.wg.Done()
	for job := range cn.jobs {
		job()
	}
}

func (cn *clusterNode) run(job *routeJob) {
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	perNode := map[string][]int{}
	for i := range job.items {
		it := &job.items[i]
		res := &job.results[it.index]
		if it.store {
			if err := cn.storeQoS(ctx, it.msg); err != nil {
				res.status, res.err = 503, "QoS 1 message not stored: "+err.Error()
				continue
			}
			res.stored = true
		}
		nodes, err := cn.nodesFor(ctx, it)
		switch {
		case err == nil:
		case it.kind == addrConn && errors.Is(err, cluster.ErrUnknownNode):
			// The key's node is gone: nobody holds it.
		case it.kind == addrConn || res.delivered == 0:
			res.status, res.err = 503, "cluster directory unavailable, and the target is not on this node: "+err.Error()
		default:
			if other := cn.otherKnown(it); other != "" {
				res.status, res.err = 503, "cluster directory unavailable: delivered here, but node "+other+
					" also holds the target and was not reached: "+err.Error()
			}
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
			pushes[k] = clusterPush(job.items[i].msg)
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
			switch {
			case err != nil && it.kind == addrConn && errors.Is(err, cluster.ErrUnknownNode):
			case r.Err != "":
				res.status, res.err = 503, "node "+node+" could not deliver: "+r.Err
			case err != nil && k >= len(results):
				res.status, res.err = 503, "node "+node+" unreachable: "+err.Error()
			default:
				res.delivered += r.Delivered
				if r.Delivered > 0 {
					res.nodes++
				}
			}
			if cn.s.debug {
				cn.s.log.Debug("hop: forwarded", "trace", it.msg.seq, "to", node, "delivered", r.Delivered, "err", err)
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
		res := &job.results[it.index]
		if res.status == 0 {
			res.status = 200
			finishStatus(res, it.kind)
		}
		it.msg.Release()
	}
	cn.s.answerRouted(job)
}

// nodesFor looks up the nodes a push must reach, this one included or not.
func (cn *clusterNode) nodesFor(ctx context.Context, it *routeItem) ([]string, error) {
	var nodes []string
	var err error
	switch to := string(it.msg.to); it.kind {
	case addrConn:
		_, err = cn.dir.NodeAddr(ctx, it.node)
		return []string{it.node}, err
	case addrUser:
		nodes, err = cn.dir.UserNodes(ctx, to[len("user:"):])
	case addrTopic:
		nodes, err = cn.dir.TopicNodes(ctx, to[len("topic:"):])
	default:
		var all []cluster.Node
		all, err = cn.dir.Nodes(ctx)
		for _, n := range all {
			nodes = append(nodes, n.ID)
		}
	}
	if err == nil {
		cn.remember(string(it.msg.to), nodes)
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

// otherKnown names a node other than this one that the directory last said
// holds the push's target, or "" when it named none (or was never asked).
func (cn *clusterNode) otherKnown(it *routeItem) string {
	cn.knownMu.Lock()
	defer cn.knownMu.Unlock()
	for _, n := range cn.known[string(it.msg.to)] {
		if n != cn.s.nodeID {
			return n
		}
	}
	return ""
}

func clusterPush(m *message) *cluster.Push {
	return &cluster.Push{Trace: m.seq, ID: string(m.id), To: string(m.to), Event: string(m.event),
		ContentType: string(m.ctype), JSON: m.json, QoS: m.qos, Data: m.data}
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

// take is the link server's handler: a push forwarded by another node,
// delivered to this node's connections only. It runs on the link's
// goroutine, so every delivery is handed to its loop.
func (cn *clusterNode) take(p *cluster.Push) cluster.Result {
	s := cn.s
	cn.received.Add(1)
	seq, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil {
		return cluster.Result{Err: "bad message id"}
	}
	kind, name, ok := parseAddress(viewBytes(p.To))
	if !ok {
		return cluster.Result{Err: "bad address"}
	}
	now := time.Now()
	m := newMessage(seq, now.UnixMilli())
	defer m.Release()
	m.setPayload(viewBytes(p.To), viewBytes(p.Event), viewBytes(p.ContentType), p.Data, p.JSON, p.QoS)
	sc := scratchPool.Get().(*fanScratch)
	defer scratchPool.Put(sc)
	targets := sc.targets[:0]
	switch kind {
	case addrConn:
		key, node, ok := parseKeyText(name)
		if !ok || (node != nil && string(node) != s.nodeID) {
			return cluster.Result{Err: "conn key is not held by this node"}
		}
		if h, ok := s.lookupKey(key); ok {
			targets = append(targets, conntable.Handle(h))
		}
	case addrUser:
		s.recent.record(conntable.Users, name, m)
		targets = s.table.AppendMembers(targets, conntable.Users, name)
	case addrTopic:
		s.recent.record(conntable.Topics, name, m)
		targets = s.table.AppendMembers(targets, conntable.Topics, name)
	case addrAll:
		n := s.handOverAll(m)
		if s.debug {
			s.log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", n)
		}
		return cluster.Result{Delivered: n}
	}
	sc.targets = targets
	s.handOver(m, targets, sc)
	if s.debug {
		s.log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", len(targets))
	}
	return cluster.Result{Delivered: len(targets)}
}

// fanScratch is the per-call scratch of a fan-out done off the loops.
type fanScratch struct {
	targets []conntable.Handle
	batches [][]engine.Task
}

var scratchPool = sync.Pool{New: func() any { return new(fanScratch) }}

// handOver gives m to every target through its loop's task queue.
func (s *Server) handOver(m *message, targets []conntable.Handle, sc *fanScratch) {
	if len(sc.batches) < len(s.loops) {
		sc.batches = make([][]engine.Task, len(s.loops))
	}
	for _, th := range targets {
		h := engine.Handle(th)
		sc.batches[h.Loop()] = append(sc.batches[h.Loop()], engine.Task{H: h, Op: opDeliver, V: m})
	}
	for i, batch := range sc.batches {
		if len(batch) == 0 {
			continue
		}
		m.retain(int32(len(batch)))
		s.eng.SubmitBatch(i, batch)
		clear(batch)
		sc.batches[i] = batch[:0]
	}
}

// handOverAll gives m to every subscriber of the node through the loops.
func (s *Server) handOverAll(m *message) int {
	n := 0
	for i, ls := range s.loops {
		n += int(ls.subscribers.Load())
		m.retain(1)
		s.eng.Submit(i, engine.Task{Op: opDeliverAll, V: m})
	}
	return n
}

// parseAddress splits "kind:name" (or "all").
func parseAddress(to []byte) (addrKind, []byte, bool) {
	if string(to) == "all" {
		return addrAll, nil, true
	}
	var p push
	kind, name, ok := cutByte(to, ':')
	if !ok || !p.setKind(kind) || p.kind == addrAll || !validName(name) {
		return 0, nil, false
	}
	return p.kind, name, true
}

func cutByte(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}
