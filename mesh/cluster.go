package mesh

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
	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/route"
	"github.com/pushwire/pushwire/userpolicy"
)

// clusterNode is a node's cluster half (SPEC §8), in both modes: the
// directory, the links to peers, the link server that takes their pushes,
// and the router goroutines that do everything that waits on Redis or a
// peer, so that no loop ever does. With --redis the directory is Redis;
// standalone it is a cluster.MemDirectory that reads the node's own table,
// alone in its store, so every push is local and the router never starts.
type clusterNode struct {
	s      *Mesh
	Dir    cluster.Directory
	mem    *cluster.MemDirectory   // dir when it is in memory; nil with --redis
	rdir   *cluster.RedisDirectory // dir with --redis; nil in memory
	Links  *links.Links
	Server *links.LinkServer // nil when nothing can dial this node
	Ln     net.Listener
	redis  *redisconn.Conn   // the QoS 1 mailbox's and idempotency keys' Redis; nil without --redis
	Idem   admit.Idempotency // Idempotency-Key claims and answers: in Redis with it, else in memory

	// Router takes pushes to the other nodes, and runs all work that waits
	// on Redis or a peer; its goroutines start with the jobs, so a
	// standalone node never has one.
	Router *route.Router[*edge.Message]
	wg     sync.WaitGroup // the link server

	Received atomic.Uint64 // pushes taken from other nodes

	Presence *admin.Presence // presence queries: their links and slots (admin/presence.go)
}

// forwardTimeout bounds a forward, so a peer that holds its link open but
// never answers costs a 503, not a hung publisher.
const forwardTimeout = 2 * time.Second

// lookupTimeout bounds a routing job's directory lookups: the directory's
// default per-request bound (cluster.RedisOptions.OpTimeout).
const lookupTimeout = time.Second

func newClusterNode(s *Mesh) *clusterNode {
	return &clusterNode{s: s}
}

// StartCluster joins the Redis directory with --redis, else the in-memory
// one: a store of the node's own (standalone), or Config.MemStore, shared
// with the other nodes of this process.
func StartCluster(s *Mesh) (*clusterNode, error) {
	if s.Cfg.Redis != "" {
		return startRedisCluster(s)
	}
	cn := newClusterNode(s)
	shared, advertise := s.Cfg.MemStore, ""
	if shared != nil {
		// Nodes that share a store dial each other's link listener.
		var err error
		if cn.Ln, err = s.MeshGlue.ListenLink(s.Cfg.ClusterListen); err != nil { // upgrade/upgrader.go: maybe handed over
			return nil, fmt.Errorf("--cluster-listen %s: %w", s.Cfg.ClusterListen, err)
		}
		advertise = advertiseFor(cn.Ln.Addr().(*net.TCPAddr))
	} else {
		shared = cluster.NewMemStore()
	}
	s.IdemMem = admit.NewIdemMemory(s.IdemOptions())
	cn.Idem = s.IdemMem
	cn.mem = cluster.NewMemDirectory(shared, cluster.Node{ID: s.ID, Addr: advertise}, tableHoldings{s.Table})
	cn.Dir = cn.mem
	cn.Dir.Start(context.Background()) // in memory: cannot fail
	cn.startLinks()
	return cn, nil
}

func startRedisCluster(s *Mesh) (*clusterNode, error) {
	cfg := &s.Cfg
	ln, err := s.MeshGlue.ListenLink(cfg.ClusterListen) // upgrade/upgrader.go: maybe handed over
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
		Self:     cluster.Node{ID: s.ID, Addr: advertise},
		NodeTTL:  cfg.NodeTTL,
		Logger:   s.Log,
		Observer: s.Metrics.DirectoryObserver(),
		// An upgrade's new process: the entries are in Redis under the same node id, so the
		// directory starts without the full re-sync, which TakenOver runs once it serves.
		Takeover: s.MeshGlue.TakingOver != nil && s.MeshGlue.TakingOver(),
		// The janitor clears dead nodes' keys from the per-user sets only where they exist.
		UserConns: cfg.MaxConnsPerUser > 0,
	}
	cn.directoryHooks(&o)
	dir, err := cluster.NewRedisDirectory(o)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	cn.Dir, cn.Ln, cn.rdir = dir, ln, dir
	s.MeshGlue.MirrorAdopted(dir) // upgrade/handoff.go: the names handed over, before Start
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := dir.Start(ctx); err != nil {
		// Start keeps retrying in the background: the node serves its own
		// connections meanwhile and joins the cluster when Redis answers.
		s.Log.Warn("redis directory not reachable yet; serving local connections", "err", err)
	}
	if cn.redis, err = redisconn.New(redisconn.Options{URL: cfg.Redis, Logger: s.Log, Observer: s.Metrics.StoreObserver()}); err != nil {
		ln.Close()
		dir.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	s.Store.useRedis(cn.redis)
	cn.Idem = admit.NewIdemRedis(cn.redis, s.IdemOptions())
	cn.startLinks()
	s.Log.Info("cluster mode", "node", s.ID, "link", ln.Addr().String(), "advertise", advertise, "redis", WithoutUserinfo(cfg.Redis))
	return cn, nil
}

// startLinks prepares the links to peers and the router that uses them
// and, when the node has a link listener, serves the pushes peers forward
// to it.
func (cn *clusterNode) startLinks() {
	s := cn.s
	cn.Links = links.NewLinks(s.ID, cn.Dir, links.LinkOptions{Logger: s.Log, Observer: s.Metrics.LinkObserver()})
	cn.Presence = admin.NewPresence(s.ID, s.Table, cn.Dir, cn.Alone, lookupTimeout, s.Log)
	cn.Presence.Change = cn.changeLocal // server-side subscriptions and the user policy's queries (subscriptions.go)
	s.Policy.Start(userpolicy.Cluster{Redis: cn.redis, Dir: cn.Dir, Ask: cn.Presence.Ask, Submit: cn.submit})
	cn.Router = route.New(route.Options[*edge.Message]{Self: s.ID, Dir: cn.Dir, Links: cn.Links,
		Store: s.Store.put, Resolver: s.Resolver, FromPeer: fromPeer, LookupTimeout: lookupTimeout, ForwardTimeout: forwardTimeout, Logger: s.Log})
	s.Router = cn.Router // the publishing side's (publish/publisher.go)
	if cn.Ln == nil {
		return
	}
	cn.Server = links.NewLinkServer(cn.takeFromPeer, links.LinkServerOptions{Logger: s.Log, Query: cn.Presence.AnswerQuery})
	if s.LinksAfterGo {
		return // a takeover's: ServeLinks, once it serves
	}
	cn.ServeLinks()
}

// ServeLinks serves the pushes and queries peers send over their links to this node's link
// listener. A takeover calls it only after the old process's go (upgrade/handoff.go): peers'
// links wait in the shared listener's accept queue meanwhile, so a takeover that fails leaves
// them for the old process to accept instead of resetting links it accepted.
func (cn *clusterNode) ServeLinks() {
	s := cn.s
	cn.wg.Add(1)
	go func() {
		defer cn.wg.Done()
		if err := cn.Server.Serve(cn.Ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, cluster.ErrClosed) {
			s.Log.Error("cluster link listener stopped", "err", err)
		}
	}()
}

// tableHoldings lets the in-memory directory read this node's table in
// place of registrations (no name is copied for it).
type tableHoldings struct{ t *conntable.Table }

func (h tableHoldings) HoldsUser(user string) bool {
	return h.t.HasMembers(conntable.Users, publish.ViewBytes(user))
}

func (h tableHoldings) HoldsTopic(topic string) bool {
	return h.t.HasMembers(conntable.Topics, publish.ViewBytes(topic))
}

// Alone reports that no other node can hold a push's target: the directory
// is in memory and this node is the only one in it (standalone). Pushes
// then finish on the loop that took them.
func (cn *clusterNode) Alone() bool {
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

// Close leaves the cluster once the loops have stopped: the routing jobs in
// flight finish, the link server stops taking pushes, the links close, and
// the directory entries of this node go (Directory.Close) — so peers that
// route here meanwhile get an answer (or a broken link), never silence.
func (cn *clusterNode) Close() {
	cn.Router.Close()
	cn.s.Policy.StopKicks()
	if cn.Server != nil {
		cn.Server.Close()
	}
	cn.wg.Wait()
	cn.Links.Close()
	cn.Presence.Close()
	cn.s.Policy.StopLeaves()
	cn.Dir.Close()
	if cn.redis != nil {
		cn.redis.Close()
	}
}

// TakenOver runs, in the background, the directory re-sync a takeover's
// start left out (cluster.RedisDirectory.Resync): called once an upgrade's
// new process serves.
func (cn *clusterNode) TakenOver() {
	if cn.rdir != nil {
		cn.rdir.Resync()
	}
}

// submit hands work to the router without ever blocking a loop; false
// when the router is saturated. Its goroutines start with the jobs: a
// standalone node never has one.
func (cn *clusterNode) submit(job func()) bool {
	return cn.s.Submit(job)
}

// Joined and left mirror, into the directory, a user or topic gaining its
// first or losing its last connection on this node. The in-memory directory
// reads the table instead, so it is spared the copy of the name.
func (cn *clusterNode) Joined(g conntable.Group, name []byte) {
	if cn.mem != nil {
		return
	}
	if g == conntable.Users {
		cn.Dir.AddUser(string(name))
	} else {
		cn.Dir.AddTopic(string(name))
	}
}

func (cn *clusterNode) Left(g conntable.Group, name []byte) {
	if cn.mem != nil {
		return
	}
	if g == conntable.Users {
		cn.Dir.RemoveUser(string(name))
	} else {
		cn.Dir.RemoveTopic(string(name))
	}
}
