package store

import "github.com/pushwire/pushwire/conntable"

// Gap signal and first-subscribe replay (SPEC §3) over the kept messages of
// a name (topic history, long-poll buffer).

// Gap reports whether a client that has everything up to id after has
// missed messages of name that are no longer kept: the ring let go of a
// message newer than after. A name never kept, or whose ring never filled,
// has no gap.
func (r *Recent[M]) Gap(g conntable.Group, name []byte, after uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[g][string(name)]
	return rg != nil && rg.dropped > after
}

// AppendLast appends the newest n kept messages of name, oldest first, each
// with a reference the caller releases.
func (r *Recent[M]) AppendLast(dst []M, g conntable.Group, name []byte, n int) []M {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[g][string(name)]
	if rg == nil {
		return dst
	}
	for i := max(0, len(rg.msgs)-n); i < len(rg.msgs); i++ {
		m := rg.msgs[(rg.head+i)%len(rg.msgs)]
		m.Retain()
		dst = append(dst, m)
	}
	return dst
}
