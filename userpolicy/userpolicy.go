// package userpolicy is the per-user connection policy (SPEC §7,
// --max-conns-per-user, --user-conn-policy oldest-out|refuse): the admission
// of each stream of a user, counted in memory or in Redis, the 409 of refuse
// and the kicks of oldest-out, here or on the stream's node (admission.go);
// keys admitted whose streams have not started yet (pending.go); the Leaves
// of streams that ended, queued for Redis (leaves.go); kicks another node
// refused, asked again (kickretry.go); and the streams entered again in
// Redis after a re-sync (resync.go). Policy is the node's part and UserLoop
// a loop's; what the policy uses of the node's cluster half (mesh/cluster.go:
// its Redis, the directory, queries to other nodes, the router) is Cluster,
// given once as the cluster half starts. A stream's start and answers are
// subscribe's (SubLoop); the mesh asks whether a key is held or waits for its
// start (Holds, KickPending) when another node queries it.
package userpolicy

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/subscribe"
)

// Policy is the node's per-user connection policy. Set up before the loops
// start (Init, then Start with the cluster half).
type Policy struct {
	*edge.Node
	c Cluster

	// users counts each user's streams for --max-conns-per-user; nil
	// without it. pending holds the keys admitted whose streams are not
	// registered yet, which no stale-key sweep may drop (admission.go).
	users   admit.UserConns
	pending sync.Map
	leaves  userLeaves  // Leaves of users' streams, in Redis (leaves.go)
	kicks   kickRetries // kicks a peer refused, asked again (kickretry.go)
	loops   []*UserLoop

	UserRefused atomic.Uint64 // streams refused 409 (refuse)
	UserEvicted atomic.Uint64 // this node's streams kicked for a newer one of their user (oldest-out)
}

// Cluster is what the policy uses of the node's cluster half
// (mesh/cluster.go), given once as it starts.
type Cluster struct {
	Redis *redisconn.Conn   // the count's Redis; nil without --redis (the count is in memory)
	Dir   cluster.Directory // the live nodes; WholeUntil after a re-sync
	// Ask puts a query to another node over the query links (admin.Presence.Ask).
	Ask func(ctx context.Context, node string, q *links.Query) (links.QueryAnswer, error)
	// Submit hands work that waits on Redis or a peer to the router; false
	// when it is saturated.
	Submit func(job func()) bool
}

// UserLoop is the policy's side of one loop; it sees the loop's subscribing
// state. Only the loop touches it.
type UserLoop struct {
	*edge.Loop
	*subscribe.SubLoop
	p *Policy
}

// The policy's task ops (engine.Task.Op), after subscribing's; the mesh's
// start at NextOp.
const (
	OpKick = subscribe.NextOp + iota // close H: a stream oldest-out evicted
	NextOp
)

// Init makes p the policy of node n.
func (p *Policy) Init(n *edge.Node) {
	p.Node = n
	p.kicks.stop = make(chan struct{})
}

// NewUserLoop is the policy's side of loop l, whose subscribing state is sub.
func (p *Policy) NewUserLoop(l *edge.Loop, sub *subscribe.SubLoop) *UserLoop {
	ul := &UserLoop{Loop: l, SubLoop: sub, p: p}
	p.loops = append(p.loops, ul) // made in loop order
	return ul
}

// Start gives the policy the node's cluster half: its count is made (nil
// without --max-conns-per-user, in Redis with --redis, else in memory), and
// with Redis the Leave goroutine runs.
func (p *Policy) Start(c Cluster) {
	p.c = c
	switch {
	case p.Cfg.MaxConnsPerUser <= 0:
	case c.Redis != nil:
		p.users = admit.NewUserConnsRedis(c.Redis, "")
		p.startLeaves()
	default:
		p.users = admit.NewUserConnsMemory()
	}
}
