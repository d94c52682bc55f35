package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/conntable"
)

// Recent keeps the last messages of a topic (--topic-history, replayed
// to subscribers resuming with since/Last-Event-ID) and of any user or topic
// a long-poll client asked for lately (--poll-buffer, so the messages
// published between two polls are not lost). Names nobody asked for cost
// nothing. Safe for concurrent use; mu guards everything.
type Recent[M Message] struct {
	mu          sync.Mutex
	pollBuffer  int
	history     int
	interestTTL time.Duration
	rings       [2]map[string]*ring[M] // by conntable.Group
	// kept counts rings per group, so that a publish to a name nobody keeps
	// (no poll client asked lately, no topic history) skips the lock.
	kept [2]atomic.Int64
}

// ring is the last messages of one name, oldest first from head.
type ring[M Message] struct {
	msgs          []M
	head          int
	interestUntil int64  // unix ms; 0 = kept for history only
	dropped       uint64 // id of the newest message the ring let go of; 0 = none (gap.go)
}

// NewRecent keeps up to pollBuffer messages of a name a long-poll client
// asked for within interestTTL (--poll-buffer), and the last history
// messages of every topic (--topic-history; 0: none).
func NewRecent[M Message](pollBuffer, history int, interestTTL time.Duration) *Recent[M] {
	return &Recent[M]{pollBuffer: pollBuffer, history: history, interestTTL: interestTTL,
		rings: [2]map[string]*ring[M]{{}, {}}}
}

// Interest marks name as wanted by a long-poll client until interestTTL.
func (r *Recent[M]) Interest(g conntable.Group, name []byte, now time.Time) {
	if len(name) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[g][string(name)]
	if rg == nil {
		rg = &ring[M]{}
		r.rings[g][string(name)] = rg
		r.kept[g].Add(1)
	}
	rg.interestUntil = now.Add(r.interestTTL).UnixMilli()
}

// Record keeps m for name when history or a poll client wants it, and
// reports whether it did.
func (r *Recent[M]) Record(g conntable.Group, name []byte, m M) bool {
	if r.kept[g].Load() == 0 && (g != conntable.Topics || r.history == 0) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[g][string(name)]
	if rg == nil {
		if g != conntable.Topics || r.history == 0 {
			return false
		}
		rg = &ring[M]{}
		r.rings[g][string(name)] = rg
		r.kept[g].Add(1)
	}
	capacity := r.history
	if g == conntable.Users {
		capacity = 0
	}
	if rg.interestUntil != 0 {
		capacity = max(capacity, r.pollBuffer)
	}
	if capacity == 0 {
		return false
	}
	m.Retain()
	if len(rg.msgs) < capacity {
		rg.msgs = append(rg.msgs, m)
		return true
	}
	rg.dropped = rg.msgs[rg.head].Push().Seq
	rg.msgs[rg.head].Release()
	rg.msgs[rg.head] = m
	rg.head = (rg.head + 1) % len(rg.msgs)
	return true
}

// AppendSince appends name's kept messages with ids above after, each with a
// reference the caller releases.
func (r *Recent[M]) AppendSince(dst []M, g conntable.Group, name []byte, after uint64) []M {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[g][string(name)]
	if rg == nil {
		return dst
	}
	for i := range rg.msgs {
		m := rg.msgs[(rg.head+i)%len(rg.msgs)]
		if m.Push().Seq > after {
			m.Retain()
			dst = append(dst, m)
		}
	}
	return dst
}

// Sweep forgets names whose poll interest ended and that keep no history.
func (r *Recent[M]) Sweep(now time.Time) {
	nowMs := now.UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for g := range r.rings {
		for name, rg := range r.rings[g] {
			if rg.interestUntil == 0 || rg.interestUntil > nowMs {
				continue
			}
			rg.interestUntil = 0
			if conntable.Group(g) == conntable.Topics && r.history > 0 {
				continue
			}
			for _, m := range rg.msgs {
				m.Release()
			}
			delete(r.rings[g], name)
			r.kept[g].Add(-1)
		}
	}
}
