package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/route"
)

// clusterNode is a node's cluster half (SPEC §8), in both modes: the
// directory, the links to peers, the link server that takes their pushes,
// and the router goroutines that do everything that waits on Redis or a
// peer, so that no loop ever does. With --redis the directory is Redis;
// standalone it is a cluster.MemDirectory that reads the node's own table,
// alone in its store, so every push is local and the router never starts.
type clusterNode struct {
	s      *Server
	dir    cluster.Directory
	mem    *cluster.MemDirectory // dir when it is in memory; nil with --redis
	links  *cluster.Links
	server *cluster.LinkServer // nil when nothing can dial this node
	ln     net.Listener
	redis  *cluster.RedisConn  // the QoS 1 mailbox's and idempotency keys' Redis; nil without --redis
	idem   cluster.Idempotency // Idempotency-Key claims and answers: in Redis with it, else in memory

	// router takes pushes to the other nodes, and runs all work that waits
	// on Redis or a peer; its goroutines start with the jobs, so a
	// standalone node never has one.
	router *route.Router[*message]
	wg     sync.WaitGroup // the link server

	forwards atomic.Uint64 // pushes forwarded to other nodes
	received atomic.Uint64 // pushes taken from other nodes

	presence *admin.Presence // presence queries: their links and slots (admin/presence.go)

	// users counts each user's streams for --max-conns-per-user; nil
	// without it. pending holds the keys admitted whose streams are not
	// registered yet, which no stale-key sweep may drop (userpolicy.go).
	users   cluster.UserConns
	pending sync.Map
	leaves  userLeaves // Leaves of users' streams, in Redis (userleaves.go)
}

// forwardTimeout bounds a forward, so a peer that holds its link open but
// never answers costs a 503, not a hung publisher.
const forwardTimeout = 2 * time.Second

// lookupTimeout bounds a routing job's directory lookups: the directory's
// default per-request bound (cluster.RedisOptions.OpTimeout).
const lookupTimeout = time.Second

func newClusterNode(s *Server) *clusterNode {
	return &clusterNode{s: s}
}

// startCluster joins the Redis directory with --redis, else the in-memory
// one: a store of the node's own (standalone), or Config.MemStore, shared
// with the other nodes of this process.
func startCluster(s *Server) (*clusterNode, error) {
	if s.cfg.Redis != "" {
		return startRedisCluster(s)
	}
	cn := newClusterNode(s)
	shared, advertise := s.cfg.MemStore, ""
	if shared != nil {
		// Nodes that share a store dial each other's link listener.
		var err error
		if cn.ln, err = s.listenLink(s.cfg.ClusterListen); err != nil { // handoff.go: maybe handed over
			return nil, fmt.Errorf("--cluster-listen %s: %w", s.cfg.ClusterListen, err)
		}
		advertise = advertiseFor(cn.ln.Addr().(*net.TCPAddr))
	} else {
		shared = cluster.NewMemStore()
	}
	s.idemMem = cluster.NewIdemMemory(s.idemOptions())
	cn.idem = s.idemMem
	cn.mem = cluster.NewMemDirectory(shared, cluster.Node{ID: s.nodeID, Addr: advertise}, tableHoldings{s.table})
	cn.dir = cn.mem
	cn.dir.Start(context.Background()) // in memory: cannot fail
	cn.startLinks()
	return cn, nil
}

func startRedisCluster(s *Server) (*clusterNode, error) {
	cfg := &s.cfg
	ln, err := s.listenLink(cfg.ClusterListen) // handoff.go: maybe handed over
	if err != nil {
		return nil, fmt.Errorf("--cluster-listen %s: %w", cfg.ClusterListen, err)
	}
	advertise := cfg.Advertise
	if advertise == "" {
		advertise = advertiseFor(ln.Addr().(*net.TCPAddr))
	}
	cn := newClusterNode(s)
	o := cluster.RedisOptions{
		URL:      cfg.Redis,
		Self:     cluster.Node{ID: s.nodeID, Addr: advertise},
		NodeTTL:  cfg.NodeTTL,
		Logger:   s.log,
		Observer: s.metrics.DirectoryObserver(),
	}
	cn.directoryHooks(&o)
	dir, err := cluster.NewRedisDirectory(o)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	cn.dir, cn.ln = dir, ln
	s.mirrorAdopted(dir) // handoff.go: the names handed over, before Start's resync
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := dir.Start(ctx); err != nil {
		// Start keeps retrying in the background: the node serves its own
		// connections meanwhile and joins the cluster when Redis answers.
		s.log.Warn("redis directory not reachable yet; serving local connections", "err", err)
	}
	if cn.redis, err = cluster.NewRedisConn(cluster.RedisConnOptions{URL: cfg.Redis, Logger: s.log, Observer: s.metrics.StoreObserver()}); err != nil {
		ln.Close()
		dir.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	s.store.useRedis(cn.redis)
	cn.idem = cluster.NewIdemRedis(cn.redis, s.idemOptions())
	cn.startLinks()
	s.log.Info("cluster mode", "node", s.nodeID, "link", ln.Addr().String(), "advertise", advertise, "redis", WithoutUserinfo(cfg.Redis))
	return cn, nil
}

// startLinks prepares the links to peers and the router that uses them
// and, when the node has a link listener, serves the pushes peers forward
// to it.
func (cn *clusterNode) startLinks() {
	s := cn.s
	cn.links = cluster.NewLinks(s.nodeID, cn.dir, cluster.LinkOptions{Logger: s.log, Observer: s.metrics.LinkObserver()})
	cn.presence = admin.NewPresence(s.nodeID, s.table, cn.dir, cn.alone, lookupTimeout, s.log)
	cn.presence.Change = cn.changeLocal // server-side subscriptions and the user policy's queries (subscriptions.go)
	cn.users = cn.newUserConns()
	if cn.users != nil && cn.redis != nil {
		cn.startLeaves()
	}
	cn.router = route.New(route.Options[*message]{Self: s.nodeID, Dir: cn.dir, Links: cn.links,
		Store: s.store.put, Resolver: s.resolver, FromPeer: fromPeer, LookupTimeout: lookupTimeout, ForwardTimeout: forwardTimeout, Logger: s.log})
	if cn.ln == nil {
		return
	}
	cn.server = cluster.NewLinkServer(cn.takeFromPeer, cluster.LinkServerOptions{Logger: s.log, Query: cn.presence.AnswerQuery})
	cn.wg.Add(1)
	go func() {
		defer cn.wg.Done()
		if err := cn.server.Serve(cn.ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, cluster.ErrClosed) {
			s.log.Error("cluster link listener stopped", "err", err)
		}
	}()
}

// tableHoldings lets the in-memory directory read this node's table in
// place of registrations (no name is copied for it).
type tableHoldings struct{ t *conntable.Table }

func (h tableHoldings) HoldsUser(user string) bool {
	return h.t.HasMembers(conntable.Users, viewBytes(user))
}

func (h tableHoldings) HoldsTopic(topic string) bool {
	return h.t.HasMembers(conntable.Topics, viewBytes(topic))
}

// alone reports that no other node can hold a push's target: the directory
// is in memory and this node is the only one in it (standalone). Pushes
// then finish on the loop that took them.
func (cn *clusterNode) alone() bool {
	return cn.mem != nil && cn.mem.Alone()
}

// WithoutUserinfo hides the user info of a URL for logs and printed
// settings: "redis://u:secret@h:6379/0" becomes "redis://***@h:6379/0".
// Only the authority is looked at, so an '@' in a path or query stays.
func WithoutUserinfo(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	at := strings.LastIndexByte(rest[:hostEnd], '@')
	if at < 0 {
		return u
	}
	return scheme + "://***@" + rest[at+1:]
}

// advertiseFor turns a bound wildcard address into one a peer on this
// machine can dial; set --advertise for peers elsewhere.
func advertiseFor(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// close leaves the cluster once the loops have stopped: the routing jobs in
// flight finish, the link server stops taking pushes, the links close, and
// the directory entries of this node go (Directory.Close) — so peers that
// route here meanwhile get an answer (or a broken link), never silence.
func (cn *clusterNode) close() {
	cn.router.Close()
	if cn.server != nil {
		cn.server.Close()
	}
	cn.wg.Wait()
	cn.links.Close()
	cn.presence.Close()
	cn.stopLeaves()
	cn.dir.Close()
	if cn.redis != nil {
		cn.redis.Close()
	}
}

// submit hands work to the router without ever blocking a loop; false
// when the router is saturated. Its goroutines start with the jobs: a
// standalone node never has one.
func (cn *clusterNode) submit(job func()) bool {
	return cn.router.Submit(job)
}

// joined and left mirror, into the directory, a user or topic gaining its
// first or losing its last connection on this node. The in-memory directory
// reads the table instead, so it is spared the copy of the name.
func (cn *clusterNode) joined(g conntable.Group, name []byte) {
	if cn.mem != nil {
		return
	}
	if g == conntable.Users {
		cn.dir.AddUser(string(name))
	} else {
		cn.dir.AddTopic(string(name))
	}
}

func (cn *clusterNode) left(g conntable.Group, name []byte) {
	if cn.mem != nil {
		return
	}
	if g == conntable.Users {
		cn.dir.RemoveUser(string(name))
	} else {
		cn.dir.RemoveTopic(string(name))
	}
}
