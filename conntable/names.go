package conntable

import "math"

// The name index maps (kind, name) to a group record with open addressing
// and linear probing over slots of group index+1 (0 = empty slot). It is
// pointer-free where a map[string]uint32 would hand the collector one string
// per user; names are compared against the arena, so looking one up with a
// []byte never allocates. Deletion shifts later entries back (no tombstones),
// so probe chains stay short under churn.
//
// Slots are 16 bits wide while every group record of the shard fits (65,535
// of them: 4M users over 64 shards) and 32 bits from the first that does not:
// at 3/8–3/4 load that is 3–5 bytes of index per user instead of 5–11.

// indexMinLen is the first index size; it doubles at 3/4 load.
const indexMinLen = 16

// nameIndex holds the slots: narrow until wide is needed, then only wide.
type nameIndex struct {
	narrow []uint16
	wide   []uint32
}

func (x *nameIndex) len() int {
	if x.wide != nil {
		return len(x.wide)
	}
	return len(x.narrow)
}

func (x *nameIndex) get(i uint32) uint32 {
	if x.wide != nil {
		return x.wide[i]
	}
	return uint32(x.narrow[i])
}

func (x *nameIndex) set(i, v uint32) {
	if x.wide != nil {
		x.wide[i] = v
	} else {
		x.narrow[i] = uint16(v)
	}
}

// remake returns the slots (their values, in order) and replaces them with n
// empty ones, wide if wide is set or already the case.
func (x *nameIndex) remake(n int, wide bool) (oldNarrow []uint16, oldWide []uint32) {
	oldNarrow, oldWide = x.narrow, x.wide
	if wide || oldWide != nil {
		x.narrow, x.wide = nil, make([]uint32, n)
	} else {
		x.narrow = make([]uint16, n)
	}
	return oldNarrow, oldWide
}

// find returns the group named (g, name). mu must be held.
func (s *shard) find(g Group, name []byte, hash uint32) (uint32, bool) {
	if s.index.len() == 0 {
		return 0, false
	}
	mask := uint32(s.index.len() - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		v := s.index.get(i)
		if v == 0 {
			return 0, false
		}
		gr := s.groups.at(v - 1)
		if gr.hash == hash {
			if n, k := s.entry(gr); k == g && string(n) == string(name) {
				return v - 1, true
			}
		}
	}
}

// indexInsert enters group gi, which must not be present. mu must be held.
func (s *shard) indexInsert(gi uint32) {
	if (s.indexUsed+1)*4 > s.index.len()*3 {
		s.indexGrow(2*s.index.len(), false)
	}
	if gi+1 > math.MaxUint16 && s.index.wide == nil {
		s.indexGrow(s.index.len(), true) // the first record a narrow slot cannot name
	}
	s.indexPlace(gi)
	s.indexUsed++
}

// indexPlace puts gi in the first free slot of its probe chain.
func (s *shard) indexPlace(gi uint32) {
	mask := uint32(s.index.len() - 1)
	i := s.groups.at(gi).hash & mask
	for s.index.get(i) != 0 {
		i = (i + 1) & mask
	}
	s.index.set(i, gi+1)
}

// indexGrow makes the index n slots long (at least indexMinLen), wide if
// asked, and re-places every entry.
func (s *shard) indexGrow(n int, wide bool) {
	narrow, wideOld := s.index.remake(max(indexMinLen, n), wide)
	for _, v := range narrow {
		if v != 0 {
			s.indexPlace(uint32(v) - 1)
		}
	}
	for _, v := range wideOld {
		if v != 0 {
			s.indexPlace(v - 1)
		}
	}
}

// indexDelete removes group gi, which must be present, then walks the rest of
// its cluster moving back each entry whose home slot lies at or before the
// hole, so no lookup ever stops early at the freed slot.
func (s *shard) indexDelete(gi uint32) {
	mask := uint32(s.index.len() - 1)
	i := s.groups.at(gi).hash & mask
	for s.index.get(i) != gi+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; s.index.get(j) != 0; j = (j + 1) & mask {
		home := s.groups.at(s.index.get(j)-1).hash & mask
		// The entry at j may move to hole i only if its home is not in the
		// cyclic range (i, j]: then i lies on its probe path.
		if (j-home)&mask >= (j-i)&mask {
			s.index.set(i, s.index.get(j))
			i = j
		}
	}
	s.index.set(i, 0)
	s.indexUsed--
}
