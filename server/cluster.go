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
