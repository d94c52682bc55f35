package conntable

import "encoding/binary"

// group is one user or topic: the head of its member list and where its
// entry sits in the shard's arena. 16 bytes, no pointers; a group exists only
// while it has members. Its kind and name length are not fields: they lead
// its entry in the arena (see entry), one byte for a name under 64 bytes
// where two uint32 fields took eight, so a user with one connection costs 16
// bytes of group record instead of 24.
type group struct {
	hash  uint32 // low 32 bits of the name hash: probe start and quick compare
	off   uint32 // the entry starts at arena[off]
	head  uint32 // first member record + 1; on the free list: next free group + 1
	count uint32 // members; 0 only while on the free list
}

// An arena entry is uvarint(len(name)<<1 | kind) followed by the name.
const kindBits = 1 // numGroups fits in one bit

// appendEntry appends the arena entry of (g, name) to dst.
func appendEntry(dst []byte, g Group, name []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(name))<<kindBits|uint64(g)), name...)
}

// entry returns group gr's name bytes, valid until the arena next changes,
// and its kind. mu must be held.
func (s *shard) entry(gr *group) ([]byte, Group) {
	v, n := binary.Uvarint(s.arena[gr.off:])
	start := int(gr.off) + n
	return s.arena[start : start+int(v>>kindBits)], Group(v & (1<<kindBits - 1))
}

// kind returns group gr's kind; see entry. mu must be held.
func (s *shard) kind(gr *group) Group {
	_, g := s.entry(gr)
	return g
}

// entryEnd is the arena offset just past group gr's entry. mu must be held.
func (s *shard) entryEnd(gr *group) int {
	v, n := binary.Uvarint(s.arena[gr.off:])
	return int(gr.off) + n + int(v>>kindBits)
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
	if uint64(len(s.arena))+uint64(len(name)) > 1<<32-1-binary.MaxVarintLen64 {
		panic("conntable: more than 4 GiB of names in one shard")
	}
	*s.groups.at(gi) = group{
		hash: hash,
		off:  uint32(len(s.arena)),
	}
	s.arena = appendEntry(s.arena, g, name)
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
	if end := s.entryEnd(gr); end == len(s.arena) {
		s.arena = s.arena[:gr.off] // the newest name: reuse its bytes at once
	} else {
		s.dead += end - int(gr.off)
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
		fresh = append(fresh, s.arena[gr.off:s.entryEnd(gr)]...)
		gr.off = uint32(off)
	}
	s.arena = fresh
	s.dead = 0
}
