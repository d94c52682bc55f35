// package mesh is the node among its peers, and what outlives a
// connection: the cluster half (cluster.go: the directory, the links, the
// router and taking pushes from peers, take.go), the QoS 1 mailbox and its
// replays (mailbox.go, qoscluster.go) and the re-sync after the directory
// lost the node (resync.go), server-side subscriptions (subscriptions.go),
// and /conn and /ack (async.go); the per-user connection policy is
// userpolicy's, handed what it uses of the cluster half as it starts
// (cluster.go). Mesh and MeshLoop (mesh.go) see the node's publishing and
// subscribing sides and hold the policy's parts; what they ask of the node
// above (the upgrade hand-off, HTTP/2 answers, publish figures) is MeshGlue,
// filled at assembly (server/loopglue.go).
package mesh

import (
	"net"
	"sync/atomic"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/subscribe"
	"github.com/pushwire/pushwire/userpolicy"
)

// Mesh is the node among its peers and what outlives a connection: the
// cluster half (directory, links, router), the QoS 1 mailbox, its replays
// and the re-sync, server-side subscriptions, /conn and /ack, and the
// per-user connection policy's node part (userpolicy.Policy). It sees the node's publishing and
// subscribing sides. Set up before the loops start.
type Mesh struct {
	*edge.Node
	*publish.Publisher
	*subscribe.Subscribing
	loops []*MeshLoop

	Store   *qosMailbox       // QoS 1 messages per user, in memory or Redis (mailbox.go)
	Cluster *clusterNode      // the directory and links: in memory when standalone
	IdemMem *admit.IdemMemory // Publisher.Idem when it is in memory; nil with Redis
	Running atomic.Bool       // the loops run: tasks submitted to them are taken
	Stopped chan struct{}     // closed once the node stopped
	// LinksAfterGo: StartCluster makes the link server without serving it; the caller serves it
	// (Cluster.ServeLinks). An upgrade's takeover, which must accept no peer's link before go.
	LinksAfterGo bool

	Acks   atomic.Uint64
	Policy userpolicy.Policy // --max-conns-per-user (userpolicy/)

	MeshGlue MeshGlue
}

// MeshGlue is what the mesh asks of the node above it (the upgrade hand-off,
// the HTTP/2 streams, the publish figures), filled in at assembly.
type MeshGlue struct {
	// AdmitTake admits a push from a peer, or says why not (an upgrade
	// hands connections over); takeDone ends an admitted one.
	AdmitTake func() (refusal string)
	TakeDone  func()
	// ListenLink opens the cluster link listener, or takes the one handed over.
	ListenLink func(addr string) (net.Listener, error)
	// MirrorAdopted enters the names an upgrade handed over in dir.
	MirrorAdopted func(dir cluster.Directory)
	// TakingOver reports that the cluster starts in an upgrade's new
	// process, which takes the node's registration over (cluster.go).
	TakingOver func() bool
	// PublishAnswered finishes the figures of a publish answered off the loop.
	PublishAnswered func(l *engine.Loop, h engine.Handle)
	// H2FinishAsync writes an async answer to the HTTP/2 stream from.
	H2FinishAsync func(l *engine.Loop, from conntable.Sub, call *AsyncCall)
}

// MeshLoop is the mesh's side of one loop; it sees the loop's publishing
// and subscribing state. Only the loop touches it.
type MeshLoop struct {
	*edge.Loop
	*publish.Publishing
	*subscribe.SubLoop
	*userpolicy.UserLoop
	s *Mesh
}

// The mesh's task ops (engine.Task.Op), after the user policy's; the
// node's own start at NextOp.
const (
	OpConnCall   = userpolicy.NextOp + iota // V *asyncCall: describe, kick or ack H, answer on the caller's loop
	OpAsyncReply                            // V *asyncCall: write its answer to H and resume H
	OpReplay                                // V *replayBatch: a user's stored QoS 1 messages for H, in order
	// The QoS 1 re-sync (resync.go):
	OpResyncHold   // V chan struct{}: hold the user streams' live messages; signal V
	OpResyncReplay // the node is registered again: replay what the held streams missed
	OpResyncFailed // the re-registration failed: write what the streams held
	NextOp
)

// Init makes m the mesh of node n with its publishing and subscribing sides.
func (m *Mesh) Init(n *edge.Node, p *publish.Publisher, sub *subscribe.Subscribing) {
	m.Node, m.Publisher, m.Subscribing = n, p, sub
	m.Stopped = make(chan struct{})
	m.Policy.Init(n)
}

// NewMeshLoop is the mesh's side of loop l, whose publishing and subscribing
// states are p and sub.
func (m *Mesh) NewMeshLoop(l *edge.Loop, p *publish.Publishing, sub *subscribe.SubLoop) *MeshLoop {
	ml := &MeshLoop{Loop: l, Publishing: p, SubLoop: sub, UserLoop: m.Policy.NewUserLoop(l, sub), s: m}
	m.loops = append(m.loops, ml) // made in loop order
	return ml
}
