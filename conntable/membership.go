package conntable

// Membership is the token Join returns; Leave takes it back. 0 means none.
//
// Layout: bits 0..27 member record index, 28..39 shard index, 40..63 the
// record's generation (never 0, so a token is never 0). The generation is
// bumped each time the record is freed, so a token that was already used, or
// that outlived its record, no longer matches and Leave ignores it. After 2^24
// reuses of one record a stale token could match again; a connection holds its
// tokens for its lifetime, far shorter than that.
type Membership uint64

const (
	indexBits = 28
	shardBits = 12
	genBits   = 24

	maxMembers = 1 << indexBits // member records per shard
	genMask    = 1<<genBits - 1
)

// freeRecord marks a member or group record that sits on its free list.
const freeRecord = ^uint32(0)

// member is one (group, subscriber) pair, linked into its group's doubly linked
// list by record indexes (+1, 0 = none). 24 bytes, no pointers.
type member struct {
	h     Sub
	next  uint32 // next member of the group; on the free list: next free record
	prev  uint32 // previous member of the group; 0 when this is the head
	group uint32 // group record index, or freeRecord
	gen   uint32 // see Membership; only the low genBits are used
}

func makeMembership(shard, idx, gen uint32) Membership {
	return Membership(uint64(gen)<<(indexBits+shardBits) | uint64(shard)<<indexBits | uint64(idx))
}

func (m Membership) split() (shard, idx, gen uint32) {
	return uint32(m>>indexBits) & (1<<shardBits - 1), uint32(m) & (maxMembers - 1), uint32(m >> (indexBits + shardBits))
}

// allocMember returns a member record, recycled when possible. A fresh record
// starts at generation 1. mu must be held.
func (s *shard) allocMember() uint32 {
	if s.freeMember != 0 {
		mi := s.freeMember - 1
		s.freeMember = s.members.at(mi).next
		return mi
	}
	if s.members.n >= maxMembers {
		panic("conntable: more than 2^28 memberships in one shard")
	}
	mi := s.members.grow()
	s.members.at(mi).gen = 1
	return mi
}

// freeMemberRecord puts record mi on the free list and bumps its generation,
// which invalidates every token naming it. mu must be held.
func (s *shard) freeMemberRecord(mi uint32) {
	m := s.members.at(mi)
	m.gen = (m.gen + 1) & genMask
	if m.gen == 0 {
		m.gen = 1
	}
	m.h = 0
	m.group = freeRecord
	m.prev = 0
	m.next = s.freeMember
	s.freeMember = mi + 1
}
