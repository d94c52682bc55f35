package conntable

// group is one user or topic: the head of its member list and where its
// entry sits in the shard's arena. 16 bytes, no pointers; a group exists only
// while it has members. Its kind and name length are not fields: they lead
// its entry in the arena (arena.go), one byte for a name under 64 bytes
// where two uint32 fields took eight, so a user with one connection costs 16
// bytes of group record instead of 24.
type group struct {
	hash  uint32 // low 32 bits of the name hash: probe start and quick compare
	off   uint32 // where its entry is in the shard's arena (arena.go)
	head  uint32 // first member record + 1; on the free list: next free group + 1
	count uint32 // members; 0 only while on the free list
}

// entry returns group gr's name bytes, valid until the arena is next
// compacted, and its kind. mu must be held.
func (s *shard) entry(gr *group) ([]byte, Group) {
	name, g, _ := s.arena.entry(gr.off)
	return name, g
}

// kind returns group gr's kind; see entry. mu must be held.
func (s *shard) kind(gr *group) Group {
	_, g := s.entry(gr)
	return g
}

// newGroup creates the group (g, name): its name is copied into the arena
// (the one allocation a new name may cost: a page for every ~1 KiB of names)
// and it is entered in the name index. mu must be held.
func (s *shard) newGroup(g Group, name []byte, hash uint32) uint32 {
	var gi uint32
	if s.freeGroup != 0 {
		gi = s.freeGroup - 1
		s.freeGroup = s.groups.at(gi).head
	} else {
		gi = s.groups.grow()
	}
	*s.groups.at(gi) = group{hash: hash, off: s.arena.add(g, name)}
	s.indexInsert(gi)
	s.live[g]++
	return gi
}

// removeGroup drops the empty group gi from the index and recycles its record;
// its name bytes become arena garbage, compacted once they are the majority.
// mu must be held.
func (s *shard) removeGroup(gi uint32) {
	gr := s.groups.at(gi)
	s.indexDelete(gi)
	s.live[s.kind(gr)]--
	s.dead += s.arena.remove(gr.off)
	*gr = group{head: s.freeGroup}
	s.freeGroup = gi + 1
	if s.dead >= 4096 && s.dead > s.arena.size/2 {
		s.compactArena()
	}
}

// compactArena copies live names into fresh pages. Its cost is proportional
// to the live names and it runs only after at least as many bytes died, so
// Leave stays O(1) amortised. mu must be held.
func (s *shard) compactArena() {
	var fresh arena
	for gi := uint32(0); gi < s.groups.n; gi++ {
		gr := s.groups.at(gi)
		if gr.count == 0 {
			continue
		}
		name, g, _ := s.arena.entry(gr.off)
		gr.off = fresh.add(g, name)
	}
	s.arena = fresh
	s.dead = 0
}
