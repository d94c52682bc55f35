package conntable

import (
	"bytes"
	"slices"
	"strings"
)

// Read-only helpers for presence queries (SPEC §9). They run off the event
// loops and must not make a publisher wait on a shard lock: Count is one
// lookup, and NamesWithPrefix walks a shard in steps of prefixStep records,
// releasing the lock between steps.

// prefixStep is how many group records NamesWithPrefix reads per hold of a
// shard lock: a few microseconds, about what one Join costs a busy shard.
const prefixStep = 256

// Count returns the number of members of the named user or topic: its
// connections or subscriptions on this node, 0 when it has none.
func (t *Table) Count(g Group, name []byte) int {
	s, _, hash := t.nameHash(g, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if gi, ok := s.find(g, name, hash); ok {
		return int(s.groups.at(gi).count)
	}
	return 0
}

// NameCount is one group in a NamesWithPrefix answer.
type NameCount struct {
	Name  string
	Count int // members
}

// NamesWithPrefix returns the groups of kind g whose names start with
// prefix: the first limit of them in byte order, with their member counts,
// and how many matched in all. It is not a snapshot: groups that come or go
// while it walks may or may not be counted. Its memory is bounded by limit,
// not by the number of groups.
func (t *Table) NamesWithPrefix(g Group, prefix []byte, limit int) (first []NameCount, matched int) {
	if limit <= 0 {
		return nil, 0
	}
	byName := func(a, b NameCount) int { return strings.Compare(a.Name, b.Name) }
	var bound string // once first was cut to limit: names not below it cannot be kept
	cut := false
	for i := range t.shards {
		s := &t.shards[i]
		for from := uint32(0); ; from += prefixStep {
			var more bool
			first, matched, more = s.namesWithPrefix(first, matched, g, prefix, from, cut, bound)
			if len(first) >= 2*limit {
				slices.SortFunc(first, byName)
				first = first[:limit]
				cut, bound = true, first[limit-1].Name
			}
			if !more {
				break
			}
		}
	}
	slices.SortFunc(first, byName)
	return first[:min(len(first), limit)], matched
}

// namesWithPrefix reads group records [from, from+prefixStep) under the
// lock; more says records remain after them. When cut, names not below
// bound cannot be among the first limit and are only counted, so a walk
// over many names copies few.
func (s *shard) namesWithPrefix(dst []NameCount, matched int, g Group, prefix []byte, from uint32, cut bool, bound string) ([]NameCount, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := min(s.groups.n, from+prefixStep)
	for gi := from; gi < end; gi++ {
		gr := s.groups.at(gi)
		if gr.count == 0 {
			continue
		}
		name, k := s.entry(gr)
		if k != g {
			continue
		}
		if !bytes.HasPrefix(name, prefix) {
			continue
		}
		matched++
		if cut && string(name) >= bound {
			continue
		}
		dst = append(dst, NameCount{Name: string(name), Count: int(gr.count)})
	}
	return dst, matched, end < s.groups.n
}
