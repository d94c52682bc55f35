// package h2edge is HTTP/2 on the edge (SPEC §11): h2c with prior knowledge
// on --listen (the first bytes are the client preface), h2 by ALPN on
// --tls-listen. The connection's codec (httpcodec/h2) is fed by the loop like
// the HTTP/1.1 parser (conn.go); each subscribe stream is a subscriber of its
// own (a stream record, edge/subscriber.go), so a push to its conn key, user
// or topic reaches that stream alone; requests on a stream get the same
// answers as over HTTP/1.1, carried in HEADERS and DATA (requests.go). Frames
// for many streams of one connection written on one loop turn leave in one
// write: the engine flushes each connection once per turn. What an upgrade's
// hand-off needs of a connection is handoff.go's.
//
// It sits above mesh: a stream's subscribe goes through the per-user policy
// and an ack through the mesh's async calls. The layers below reach it
// through the glue tables the assembly fills (edge.Glue's HTTP/2 entries,
// subscribe.SubGlue's H2*, mesh.MeshGlue.H2FinishAsync); it imports nothing
// above itself.
package h2edge

import (
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/httpcodec/h2"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/subscribe"
)

// H2 is the node's HTTP/2 side: its figures, and the node it serves streams
// of (through the mesh, which sees the publishing and subscribing sides).
// Set up before the loops start; then read-only but for the atomics.
type H2 struct {
	*mesh.Mesh

	H2Conns       atomic.Int64  // HTTP/2 connections open
	H2SlowStreams atomic.Uint64 // streams reset as slow consumers
	H2SlowConns   atomic.Uint64 // connections cut as slow consumers (slow.go), part of slow_consumers
}

// H2Loop is a loop's HTTP/2 state: the connections' codecs and the scratch
// their frames are built in. Only the loop touches it.
type H2Loop struct {
	*edge.Loop
	*subscribe.SubLoop
	*mesh.MeshLoop
	s *H2

	h2s    []*h2Conn // by ConnState.Parser-1
	freeH2 []int32
	h2out  []byte     // frames being built for one connection
	fields []h2.Field // response fields being built

	h2Ticked time.Time // when the codecs' budgets were last renewed
}

// Init makes s the HTTP/2 side of the node whose mesh is m.
func (s *H2) Init(m *mesh.Mesh) { s.Mesh = m }

// NewH2Loop is the HTTP/2 state of the loop whose mesh side is ml.
func (s *H2) NewH2Loop(ml *mesh.MeshLoop) *H2Loop {
	return &H2Loop{Loop: ml.Loop, SubLoop: ml.SubLoop, MeshLoop: ml, s: s}
}
