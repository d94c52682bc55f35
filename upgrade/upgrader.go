// package upgrade is the node's side of a zero-downtime upgrade (SPEC §11): the old process
// hands every listener and held connection, with its state, to a new one over a unix socket
// (HandOff), and the new process takes them (TakeOver). The wire protocol is package handoff's;
// what a connection is made of is the layers': the loops' connection pages and subscriber
// records (edge: detach, export and adopt a connection or stream record), a loop's HTTP/2
// connections through the small H2Part interface (h2edge/handoff.go), the QoS 1 state
// (mesh's mailbox, edge's sent log: qos.go). It sits above the HTTP/2 part and below the
// assembly, which fills the glue that reaches it (server/loopglue.go: the task op, the held
// requests, the mesh's link listener and take gate) and wraps TakeOver with what only the
// assembly has (its addresses, its sweep).
//
// The old process (HandOff, handoff.go):
//
//  1. quiesce, in rounds on every loop: stop accepting (listeners detached: new connections
//     wait in the kernel's accept queue) and detach every connection that can move — nothing
//     is read from it any more, so a publish sent meanwhile waits in its socket for the new
//     process; long-polls are answered 204 first (the client asks again, on the new process);
//     a connection whose answer is being made elsewhere (auth callback, keyed publish) is left
//     until it is answered; a TLS connection in its handshake gets the reconnect frame
//     (counted); an HTTP/2 connection moves once it is between frames (h2.go). Rounds repeat
//     until no connection is busy: a round is a task on every loop, so fan-outs queued by an
//     earlier round have run when it ends.
//  2. export, streamed (stream.go): the hello (node id, message-id counter, the TLS
//     session ticket keys) and the listeners first; then every loop at once turns its
//     detached connections' state (key, user, topics, format, cursor, time of its last frame)
//     and pending output and carry into records and sends them as it goes, in batches of at
//     most 253 with duplicates of their descriptors — for a TLS connection with its record
//     layer's state (keys, traffic secrets, sequence numbers, ALPN; its queued output sealed
//     first), for an HTTP/2 connection followed by its codec state and streams (h2.go);
//     then the QoS 1 messages kept in memory and the sent log (qos.go).
//  3. wait for ready; then check that nothing was written to an exported connection since
//     (the engine counts it); send go; the caller exits 0 without closing anything.
//
// Any failure — the new process aborts, exits, crashes or misses the deadline — reattaches
// every connection and listener: the descriptors were never given up, so the old process
// carries on as if nothing happened (counted in upgrades_failed).
//
// The new process (TakeOver) adopts each connection as its record arrives, into the same loop,
// slot and generation, so its conn key still names it, and re-enters it in the table without
// a registered frame — its loops are not running, so nothing is read or written; after the
// end it adopts the listeners, enters the names in the directory, keeps the node id, the
// message-id counter and the multipart boundary, says ready, and starts its loops only on go.
package upgrade

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/subscribe"
	"github.com/pushwire/pushwire/tlslayer"
)

// Upgrader is the node's part in upgrades. Set up before the loops start (TLS and Version
// by the assembly); a handoff's own state is its atomics and, during a round, each loop's
// part, touched only by its loop.
type Upgrader struct {
	*mesh.Mesh
	TLS     *tlslayer.Server // the TLS edge's server (its ticket keys, its adopted conns); nil without --tls-listen
	Version string           // this build's release, told to the other process
	// Taken are the addresses of the listeners a takeover adopted.
	Taken struct{ Edge, API, TLS net.Addr }
	// Adopted is how many connections a takeover adopted.
	Adopted int
	loops   []*Loop // in loop order

	active     atomic.Bool   // a handoff is running (one at a time)
	count      atomic.Uint64 // upgrades this node went through (carried to the new process)
	failed     atomic.Uint64 // handoffs that failed; this process carried on
	reconnects atomic.Uint64 // connections that could not move and got the reconnect frame
	h2Until    time.Time     // HTTP/2 conns not quiet by then cannot move (h2.go)

	// Pushes from peers (cluster links): refused from the new process's start (AwaitStarted)
	// to the end of the handoff, so that none reaches a connection being handed over (a QoS 1
	// one is stored, and replayed to the adopted streams after go: mesh/resync.go); takes
	// counts those in flight.
	refuse atomic.Bool
	takes  atomic.Int64
	linkLn net.Listener // the link listener handed over (new process), taken by ListenLink
	// names are the users and topics the adopted conns made this node hold, entered in the
	// directory before it starts (MirrorAdopted); namesMu guards them while the loops'
	// conns are adopted at once (stream.go).
	names     []adoptedName
	namesMu   sync.Mutex
	onAdopted func(conns int) // OnAdopted (stream.go)
	// marks are the old process's loops' high-water marks (the hello's): a takeover adopts no
	// slot or stream record past them; set before any connection is adopted.
	marks []handoff.LoopMarks
}

// H2Part is what a handoff needs of a loop's HTTP/2 connections (h2edge.H2Loop,
// h2edge/handoff.go); each call runs on the loop, or before the loops start.
type H2Part interface {
	// Settle answers conn's waiting long-polls and reports whether a stream still waits for
	// an answer made elsewhere and whether the codec is quiet enough to move.
	Settle(l *engine.Loop, conn engine.Handle) (answering, movable bool)
	// Streams are conn's stream subscribers; nil when conn is not HTTP/2.
	Streams(conn engine.Handle) []conntable.Sub
	// ExportH2 is conn's codec state and its PINGs awaiting their ACK.
	ExportH2(conn engine.Handle) (codec []byte, pings uint8, err error)
	// AdoptH2 restores c's codec and returns the ids of its open streams; AdoptH2Stream
	// puts a stream record adopted for one of them on c's list.
	AdoptH2(c *edge.ConnState, codec []byte, pings uint8) (streamIDs []uint32, err error)
	AdoptH2Stream(conn engine.Handle, sub conntable.Sub)
}

// Loop is the handoff's side of one loop: its part of a round on the old side, the request
// connections a quiesce holds back (hold.go). Only the loop touches it (and, adopting, the
// loop's adopter goroutine before the loops start).
type Loop struct {
	*edge.Loop
	*publish.Publishing
	*subscribe.SubLoop
	*mesh.MeshLoop
	h2 H2Part
	u  *Upgrader

	up      loopUpgrade     // this loop's part of a handoff on the old side (handoff.go)
	holding []engine.Handle // request connections a quiescing handoff keeps from reading (hold.go)
}

// OpStep is the handoff's task op (engine.Task.Op), after the mesh's: V is one round of a
// handoff, run by Loop.Step. The node's own ops, if any, start at NextOp.
const (
	OpStep = mesh.NextOp + iota
	NextOp
)

// Init makes u the upgrade side of the node whose mesh is m.
func (u *Upgrader) Init(m *mesh.Mesh) { u.Mesh = m }

// NewLoop is the handoff's side of the loop whose mesh side is ml and HTTP/2 part h2; made
// in loop order.
func (u *Upgrader) NewLoop(ml *mesh.MeshLoop, h2 H2Part) *Loop {
	ls := &Loop{Loop: ml.Loop, Publishing: ml.Publishing, SubLoop: ml.SubLoop, MeshLoop: ml, h2: h2, u: u}
	u.loops = append(u.loops, ls)
	return ls
}

// Step runs the round t carries (OpStep) on loop l.
func (ls *Loop) Step(l *engine.Loop, t engine.Task) { ls.upgradeStep(l, t.V.(*upgradeStep)) }

// Frozen reports whether loop i is in a handoff (edge.Glue.Frozen: OnTick then does nothing).
func (u *Upgrader) Frozen(i int) bool { return u.loops[i].up.frozen }

// Figures are the upgrade counts /stats and /metrics report: upgrades this node went through,
// handoffs that failed, connections told to reconnect, and whether one runs now.
func (u *Upgrader) Figures() (count, failed, reconnects uint64, active bool) {
	return u.count.Load(), u.failed.Load(), u.reconnects.Load(), u.active.Load()
}

// errTakeUpgrading answers a peer's push during a handoff: a failure, so that a push nobody
// else took is answered 503 by the node that took it, never 200 and then lost.
const errTakeUpgrading = "node upgrading: not taking pushes for a moment"

// AdmitTake counts a push from a peer in, or says why not: a handoff refuses them
// (mesh.MeshGlue.AdmitTake).
func (u *Upgrader) AdmitTake() (refusal string) {
	u.takes.Add(1)
	if u.refuse.Load() {
		u.takes.Add(-1)
		return errTakeUpgrading
	}
	return ""
}

// TakeDone ends a push from a peer that AdmitTake admitted.
func (u *Upgrader) TakeDone() { u.takes.Add(-1) }

// ListenLink opens the cluster link listener, or takes the one handed over.
func (u *Upgrader) ListenLink(addr string) (net.Listener, error) {
	if ln := u.linkLn; ln != nil {
		u.linkLn = nil
		return ln, nil
	}
	return net.Listen("tcp", addr)
}
