package server

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
	pages []*connPage                // connection state by engine slot
	keys  conntable.Keys             // the conn key issued on each slot; read by any goroutine
	peers map[engine.Handle][16]byte // peer addresses, only where a limit needs them (keepsPeer)

	parsers       []*httpcodec.Parser // parsers of connections mid-request (connState.parser)
	freeParsers   []int32
	more          [][]conntable.Membership // memberships past a connection's first
	freeMore      []int32
	names         []byte // a user or topic name read back from the table
	memberScratch []conntable.Membership
}

// conn returns h's state, adding a page the first time a slot is seen.
func (ls *loopConns) conn(h engine.Handle) *connState {
	slot := h.Slot()
	for slot/connPageSize >= len(ls.pages) {
		ls.pages = append(ls.pages, new(connPage))
	}
	return &ls.pages[slot/connPageSize][slot%connPageSize]
}

// live returns h's state when h is still the connection in its slot.
func (ls *loopConns) live(h engine.Handle) *connState {
	slot := h.Slot()
	if slot/connPageSize >= len(ls.pages) {
		return nil
	}
	c := &ls.pages[slot/connPageSize][slot%connPageSize]
	if c.h != h {
		return nil
	}
	return c
}
