package conntable

// The name index maps (kind, name) to a group record with open addressing
// and linear probing over a []uint32 of group index+1 (0 = empty slot). It is
// pointer-free where a map[string]uint32 would hand the collector one string
// per user; names are compared against the arena, so looking one up with a
// []byte never allocates. Deletion shifts later entries back (no tombstones),
// so probe chains stay short under churn.

// indexMinLen is the first index size; it doubles at 3/4 load.
const indexMinLen = 16

// find returns the group named (g, name). mu must be held.
func (s *shard) find(g Group, name []byte, hash uint32) (uint32, bool) {
	if len(s.index) == 0 {
		return 0, false
	}
	mask := uint32(len(s.index) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		v := s.index[i]
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
	if (s.indexUsed+1)*4 > len(s.index)*3 {
		s.indexGrow()
	}
	s.indexPlace(gi)
	s.indexUsed++
}

// indexPlace puts gi in the first free slot of its probe chain.
func (s *shard) indexPlace(gi uint32) {
	mask := uint32(len(s.index) - 1)
	i := s.groups.at(gi).hash & mask
	for s.index[i] != 0 {
		i = (i + 1) & mask
	}
	s.index[i] = gi + 1
}

// indexGrow doubles the index and re-places every entry.
func (s *shard) indexGrow() {
	old := s.index
	s.index = make([]uint32, max(indexMinLen, 2*len(old)))
	for _, v := range old {
		if v != 0 {
			s.indexPlace(v - 1)
		}
	}
}

// indexDelete removes group gi, which must be present, then walks the rest of
// its cluster moving back each entry whose home slot lies at or before the
// hole, so no lookup ever stops early at the freed slot.
func (s *shard) indexDelete(gi uint32) {
	mask := uint32(len(s.index) - 1)
	i := s.groups.at(gi).hash & mask
	for s.index[i] != gi+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; s.index[j] != 0; j = (j + 1) & mask {
		home := s.groups.at(s.index[j]-1).hash & mask
		// The entry at j may move to hole i only if its home is not in the
		// cyclic range (i, j]: then i lies on its probe path.
		if (j-home)&mask >= (j-i)&mask {
			s.index[i] = s.index[j]
			i = j
		}
	}
	s.index[i] = 0
	s.indexUsed--
}
