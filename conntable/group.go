package conntable

// group is one user or topic: the head of its member list and where its name
// sits in the shard's arena. 24 bytes, no pointers; a group exists only while
// it has members.
type group struct {
	hash  uint32 // low 32 bits of the name hash: probe start and quick compare
	off   uint32 // name bytes are arena[off : off+size]
	size  uint32
	head  uint32 // first member record + 1; on the free list: next free group + 1
	count uint32 // members; 0 only while on the free list
	kind  Group
}

// name returns group gi's name bytes, valid until the arena next changes.
// mu must be held.
func (s *shard) name(gr *group) []byte {
	return s.arena[gr.off : gr.off+gr.size]
}

// newGroup creates the group (g, name): its name is copied into the arena
// (the one allocation a new name may cost, amortised by arena growth) and it
// is entered in the name index. mu must be held.
func (s *shard) newGroup(g Group, name []byte, hash uint32) uint32 {
	var gi uint32
	if s.freeGroup != 0 {
		gi = s.freeGroup - 1
		s.freeGroup = s.groups.at(gi).head
	} else {
		gi = s.groups.grow()
	}
	if uint64(len(s.arena))+uint64(len(name)) > 1<<32-1 {
		panic("conntable: more than 4 GiB of names in one shard")
	}
	*s.groups.at(gi) = group{
		hash: hash,
		off:  uint32(len(s.arena)),
		size: uint32(len(name)),
		kind: g,
	}
	s.arena = append(s.arena, name...)
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
	s.live[gr.kind]--
	if int(gr.off+gr.size) == len(s.arena) {
		s.arena = s.arena[:gr.off] // the newest name: reuse its bytes at once
	} else {
		s.dead += int(gr.size)
	}
	*gr = group{head: s.freeGroup}
	s.freeGroup = gi + 1
	if s.dead >= 4096 && s.dead > len(s.arena)/2 {
		s.compactArena()
	}
}

// compactArena copies live names into a fresh arena with room for as many
// again. Its cost is proportional to the live names and it runs only after at
// least as many bytes died, so Leave stays O(1) amortised, and the headroom
// lets the next names arrive without growing the arena straight away.
// mu must be held.
func (s *shard) compactArena() {
	fresh := make([]byte, 0, 2*(len(s.arena)-s.dead)+4096)
	for gi := uint32(0); gi < s.groups.n; gi++ {
		gr := s.groups.at(gi)
		if gr.count == 0 {
			continue
		}
		off := len(fresh)
		fresh = append(fresh, s.name(gr)...)
		gr.off = uint32(off)
	}
	s.arena = fresh
	s.dead = 0
}
