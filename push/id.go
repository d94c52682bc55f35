package push

import (
	"hash/fnv"
	"sync/atomic"
	"time"
)

// Message ids are unique across a cluster and ordered by publish time, so a
// since= cursor or Last-Event-ID keeps its meaning when a client moves to
// another node: microseconds since 2024 (50 bits, until 2059), a per-node
// counter (4 bits: 16 ids a µs before the clock is borrowed ahead), and 10
// bits that name the node (a hash of its id). Pushes taken by different
// nodes are ordered as their clocks are: exactly on one machine, to NTP
// precision across machines.
const (
	idNodeBits    = 10
	idCounterBits = 4
	idTimeShift   = idNodeBits + idCounterBits
)

var idEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// IDFloor is the smallest id a message published at now can get, on any
// node.
func IDFloor(now time.Time) uint64 {
	return uint64(now.Sub(idEpoch).Microseconds()) << idTimeShift
}

// IDs hands out one node's message ids. Next is safe for concurrent use;
// Init comes before it.
type IDs struct {
	last atomic.Uint64 // the last id handed out
	node uint64        // the node's part of its ids
}

// Init makes the ids the node nodeID hands out, after last (0 for a new
// node, the old process's last id after an upgrade).
func (g *IDs) Init(nodeID string, last uint64) {
	h := fnv.New32a()
	h.Write([]byte(nodeID))
	g.node = uint64(h.Sum32()) & (1<<idNodeBits - 1)
	g.last.Store(last)
}

// Next hands out the node's next id for a message published at now.
func (g *IDs) Next(now time.Time) uint64 {
	floor := IDFloor(now) | g.node
	for {
		last := g.last.Load()
		next := max(last+1<<idNodeBits, floor)
		if g.last.CompareAndSwap(last, next) {
			return next
		}
	}
}

// Last is the last id handed out.
func (g *IDs) Last() uint64 { return g.last.Load() }
