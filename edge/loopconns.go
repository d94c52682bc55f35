package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// loopConns is the state of a loop's connections: one connState per engine
// slot in fixed pages, the conn key issued on each slot, and what a
// connection holds only while it needs it (a parser mid-request, memberships
// past the one inline, its peer address where a limit counts it). Only the
// loop touches it, except keys, which any goroutine may read (lookupKey).
type loopConns struct {
	Pages []*connPage                // connection state by engine slot
	Keys  conntable.Keys             // the conn key issued on each slot; read by any goroutine
	Peers map[engine.Handle][16]byte // peer addresses, only where a limit needs them (keepsPeer)

	parsers       []*httpcodec.Parser // parsers of connections mid-request (connState.parser)
	freeParsers   []int32
	More          [][]conntable.Membership // memberships past a connection's first
	FreeMore      []int32
	Names         []byte // a user or topic name read back from the table
	MemberScratch []conntable.Membership
}

// Conn returns h's state, adding a page the first time a slot is seen.
func (ls *loopConns) Conn(h engine.Handle) *ConnState {
	slot := h.Slot()
	for slot/connPageSize >= len(ls.Pages) {
		ls.Pages = append(ls.Pages, new(connPage))
	}
	return &ls.Pages[slot/connPageSize][slot%connPageSize]
}

// Live returns h's state when h is still the connection in its slot.
func (ls *loopConns) Live(h engine.Handle) *ConnState {
	slot := h.Slot()
	if slot/connPageSize >= len(ls.Pages) {
		return nil
	}
	c := &ls.Pages[slot/connPageSize][slot%connPageSize]
	if c.H != h {
		return nil
	}
	return c
}
