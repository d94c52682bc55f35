// package subscribe is the subscribe API's handlers on the loops (SPEC §3,
// §6): Subscribing, the node's subscribing side, and SubLoop, a loop's
// (subscribing.go), which read GET /sub and start a stream or a long-poll
// (subscribe.go, poll.go), ask subscriber auth (auth.go) and keep what it
// allowed (allowsets.go), replay what a resuming client missed and say so
// with the gap frame (gap.go), end streams at their age or auth expiry
// (lifetime.go) and on purpose (streamends.go), and enter and leave the
// table. They write through the edge's Loop; what they ask of the node above
// (the QoS 1 mailbox, the directory, the per-user policy, HTTP/2 streams) is
// SubGlue, filled at assembly (server/loopglue.go).
package subscribe

import (
	"sync/atomic"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/hooks"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// Subscribing is the node's subscribing side (SPEC §3, §6): the table of
// users and topics, what the recent store keeps for long-polls and topic
// history, subscriber auth, the lifecycle webhooks and their figures. Set
// up before the loops start; then read-only but for the atomics.
type Subscribing struct {
	*edge.Node
	Table  *conntable.Table
	Recent *store.Recent[*edge.Message]
	Auth   *authorizer   // subscriber auth (SPEC §6); nil when none is configured
	Hooks  *hooks.Sender // lifecycle webhooks (SPEC §6); nil without --hook-url
	ids    *push.IDs     // the node's message ids (the publisher's): a long-poll's cursor

	Subscribes atomic.Uint64
	Polls      atomic.Uint64
	// Stream lifetime (lifetime.go)
	AgeCloses atomic.Uint64 // streams ended by --max-conn-age
	Refreshes atomic.Uint64 // refresh frames sent (auth expiring)
	Expiries  atomic.Uint64 // streams ended as their auth expired

	SubGlue SubGlue
}

// SubGlue is what subscribing asks of the node above it, filled in at
// assembly (server/loopglue.go): the QoS 1 mailbox, the directory, the per-user
// policy and the HTTP/2 streams. Each runs on the loop l it is given.
type SubGlue struct {
	// The user's QoS 1 mailbox (mesh/mailbox.go).
	Fetch     func(h engine.Handle, user []byte, since uint64, hasSince, gapped bool) bool
	Resume    func(user []byte, since uint64, nowMs int64)
	AppendNow func(dst []*edge.Message, user []byte, nowMs int64) ([]*edge.Message, uint64)
	// A user or topic's first subscriber on the node joined, its last left (mesh/cluster.go).
	Joined, Left func(g conntable.Group, name []byte)
	// --max-conns-per-user (userpolicy/admission.go).
	GateUser   func(l *engine.Loop, h engine.Handle, c *edge.ConnState, sn *Subscription) bool
	StreamLeft func(sub conntable.Sub, s *edge.SubState)
	// HTTP/2 streams (h2edge/requests.go, h2edge/conn.go).
	H2Start      func(l *engine.Loop, sn *Subscription)
	H2AnswerPoll func(l *engine.Loop, sub conntable.Sub, c *edge.SubState, extra []*edge.Message, final bool) bool
	H2Finish     func(l *engine.Loop, from conntable.Sub, answer []byte, head bool)
	H2End        func(l *engine.Loop, sub conntable.Sub, conn engine.Handle)      // END_STREAM, forgotten
	H2Cancel     func(l *engine.Loop, sub conntable.Sub, conn engine.Handle) bool // RST_STREAM; false when conn is not HTTP/2
}

// SubLoop is the subscribing state of one loop: what auth allowed its
// streams and the key bits the user policy chose for the next register.
// Only the loop touches it.
type SubLoop struct {
	*edge.Loop
	s *Subscribing

	loopAllow           // what auth allowed each stream, for server-side subscribes (allowsets.go)
	PresetKey [2]uint64 // the next register's key bits, chosen by the user policy (userpolicy/admission.go); zero: none

	// Reading is the subscribe being read and started (Subscribe, the HTTP/2
	// glue's): a field, so that passing it through the glue's func tables
	// (GateUser, H2Start), whose arguments escape, does not put one on the
	// heap per subscribe. Whatever outlives the call copies it (an auth
	// call, the user policy's admission).
	Reading Subscription
}

// Subscribing's task ops (engine.Task.Op), run through edge.Glue.Tasks,
// after publishing's; the node's own start at NextOp.
const (
	OpAuthDone = publish.NextOp + iota // V *authCall: the auth callback's verdict on H's subscribe
	NextOp
)

// NewSubLoop is loop l's subscribing state, of node s.
func NewSubLoop(l *edge.Loop, s *Subscribing) *SubLoop {
	return &SubLoop{Loop: l, s: s}
}

// Init makes s the subscribing side of node n, whose message ids are ids.
func (s *Subscribing) Init(n *edge.Node, ids *push.IDs) { s.Node, s.ids = n, ids }
