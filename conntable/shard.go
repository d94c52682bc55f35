package conntable

import "sync"

// shard is one lock's worth of the Table. Every field below mu is guarded by
// mu: it must be held for any read or write of them.
type shard struct {
	mu sync.Mutex

	// groups holds users and topics; freeGroup heads the list of recycled
	// group records (index+1, 0 = empty), linked through group.head.
	groups    slab[group]
	freeGroup uint32

	// members holds membership records; freeMember heads the recycled ones
	// (index+1, 0 = empty), linked through member.next.
	members    slab[member]
	freeMember uint32

	// index is the open-addressing name → group table (see names.go);
	// indexUsed counts its non-empty slots.
	index     nameIndex
	indexUsed int

	// arena holds every live group's name bytes; dead counts the bytes of
	// removed groups not yet compacted away.
	arena arena
	dead  int

	// live counts the groups of each kind that have members.
	live [numGroups]int

	// pad keeps neighbouring shards' mutexes off one cache line.
	_ [64]byte
}

// join adds h to the group (g, name), creating the group if needed, and
// returns the new member record's index and generation. mu must be held.
func (s *shard) join(g Group, name []byte, hash uint32, h Sub) (uint32, uint32) {
	mi, gen, _ := s.joinFound(g, name, hash, h)
	return mi, gen
}

// joinFound is join that also reports whether the group existed before.
func (s *shard) joinFound(g Group, name []byte, hash uint32, h Sub) (mi, gen uint32, existed bool) {
	gi, existed := s.find(g, name, hash)
	if !existed {
		gi = s.newGroup(g, name, hash)
	}
	mi = s.allocMember()
	m := s.members.at(mi)
	gr := s.groups.at(gi)
	m.h = h
	m.group = gi
	m.prev = 0
	m.next = gr.head
	if gr.head != 0 {
		s.members.at(gr.head - 1).prev = mi + 1
	}
	gr.head = mi + 1
	gr.count++
	return mi, m.gen, existed
}

// leave unlinks member record mi if gen still matches it, and removes its
// group when that was the last member. mu must be held.
func (s *shard) leave(mi, gen uint32) {
	if mi >= s.members.n {
		return
	}
	m := s.members.at(mi)
	if m.gen != gen || m.group == freeRecord {
		return
	}
	gi := m.group
	gr := s.groups.at(gi)
	if m.prev != 0 {
		s.members.at(m.prev - 1).next = m.next
	} else {
		gr.head = m.next
	}
	if m.next != 0 {
		s.members.at(m.next - 1).prev = m.prev
	}
	s.freeMemberRecord(mi)
	gr.count--
	if gr.count == 0 {
		s.removeGroup(gi)
	}
}

// appendMembers appends the subscribers of group gi to dst. mu must be held.
func (s *shard) appendMembers(dst []Sub, gi uint32) []Sub {
	for next := s.groups.at(gi).head; next != 0; {
		m := s.members.at(next - 1)
		dst = append(dst, m.h)
		next = m.next
	}
	return dst
}
