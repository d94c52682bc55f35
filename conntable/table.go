package conntable

import (
	"hash/maphash"
	"math/bits"
)

// Handle is an engine.Handle as a plain integer (a connection; the wheel's
// timers name them); conntable does not import the engine. The table and
// the keys name subscribers (Sub) instead.
type Handle = uint64

// Group selects which name space a Join, Leave or lookup works on.
type Group uint8

// The two name spaces: user names and topic names are independent, so user "a"
// and topic "a" are different groups.
const (
	Users Group = iota
	Topics

	numGroups = 2
)

// maxShards bounds New's shard count so that a shard index fits the 12 bits a
// Membership token gives it.
const maxShards = 1 << shardBits

// Table indexes the users and topics of one node (conn keys are in Keys, one
// per loop). It is safe for
// concurrent use: state is split into power-of-two shards, each behind its own
// mutex; a key or name hashes to exactly one shard, so every method locks at
// most one shard at a time (see the lock order in doc.go).
type Table struct {
	shards    []shard
	shardBits uint // log2(len(shards)); shard index = hash >> (64 - shardBits)
	seed      maphash.Seed
}

// New returns an empty Table with shards rounded up to a power of two and
// clamped to [1, 4096]. More shards means less lock contention between engine
// loops and publishers; 4–8 per core is plenty.
func New(shards int) *Table {
	n := 1
	for n < shards && n < maxShards {
		n <<= 1
	}
	t := &Table{
		shards:    make([]shard, n),
		shardBits: uint(bits.TrailingZeros(uint(n))),
		seed:      maphash.MakeSeed(),
	}
	return t
}

// nameHash hashes a group name; the top bits choose the shard and the low 32
// bits are the probe start in that shard's name index. Users and topics of the
// same name hash differently.
func (t *Table) nameHash(g Group, name []byte) (*shard, uint32, uint32) {
	if g >= numGroups {
		panic("conntable: unknown group")
	}
	h := maphash.Bytes(t.seed, name) ^ uint64(g)*0xff51afd7ed558ccd
	i := uint32(h >> (64 - t.shardBits) & uint64(len(t.shards)-1))
	return &t.shards[i], i, uint32(h)
}

// Join adds subscriber h to the user or topic called name and returns the token that
// removes exactly this membership again. Joining twice makes two memberships
// (and h appears twice in AppendMembers): callers keep one token per join.
// It does not allocate when the group exists; a new name is copied once into
// the shard's name arena. name is not retained.
func (t *Table) Join(g Group, name []byte, h Sub) Membership {
	s, si, hash := t.nameHash(g, name)
	s.mu.Lock()
	idx, gen := s.join(g, name, hash, h)
	s.mu.Unlock()
	return makeMembership(si, idx, gen)
}

// Leave ends the membership m in O(1). A zero, stale (already left) or foreign
// token is ignored, so a connection may call Leave on every token it holds
// without tracking which ones are still live. The group disappears with its
// last member.
func (t *Table) Leave(m Membership) {
	si, idx, gen := m.split()
	if m == 0 || int(si) >= len(t.shards) {
		return
	}
	s := &t.shards[si]
	s.mu.Lock()
	s.leave(idx, gen)
	s.mu.Unlock()
}

// AppendMembers appends the subscribers in the named user or topic to dst, in no
// particular order, and returns the extended slice. It does not allocate when
// dst has room for them. The result is a snapshot: members may join or leave
// as soon as it returns.
func (t *Table) AppendMembers(dst []Sub, g Group, name []byte) []Sub {
	s, _, hash := t.nameHash(g, name)
	s.mu.Lock()
	if gi, ok := s.find(g, name, hash); ok {
		dst = s.appendMembers(dst, gi)
	}
	s.mu.Unlock()
	return dst
}

// HasMembers reports whether the named user or topic has at least one member.
func (t *Table) HasMembers(g Group, name []byte) bool {
	s, _, hash := t.nameHash(g, name)
	s.mu.Lock()
	_, ok := s.find(g, name, hash)
	s.mu.Unlock()
	return ok
}

// Counts returns the number of users and of topics that have at least one
// member. It sums shard by shard, so it is not one atomic snapshot.
func (t *Table) Counts() (users, topics int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		users += s.live[Users]
		topics += s.live[Topics]
		s.mu.Unlock()
	}
	return users, topics
}

// lockMember locks the shard of token m and returns it with m's live member
// record; nil (and nothing locked) for a zero, stale or foreign token.
func (t *Table) lockMember(m Membership) (*shard, *member, uint32) {
	si, idx, gen := m.split()
	if m == 0 || int(si) >= len(t.shards) {
		return nil, nil, 0
	}
	s := &t.shards[si]
	s.mu.Lock()
	if idx < s.members.n {
		if mr := s.members.at(idx); mr.gen == gen && mr.group != freeRecord {
			return s, mr, idx
		}
	}
	s.mu.Unlock()
	return nil, nil, 0
}

// AppendName appends the name of the user or topic m belongs to, and says
// which group that is, so a connection can keep only its tokens instead of a
// copy of every name. ok is false for a zero, stale or foreign token.
func (t *Table) AppendName(dst []byte, m Membership) (_ []byte, g Group, ok bool) {
	s, mr, _ := t.lockMember(m)
	if s == nil {
		return dst, 0, false
	}
	defer s.mu.Unlock()
	name, g := s.entry(s.groups.at(mr.group))
	return append(dst, name...), g, true
}

// JoinFirst is Join that also reports whether h is the group's first member,
// decided under the shard lock, so callers can mirror "this node has the
// user/topic" elsewhere (a cluster directory) exactly once.
func (t *Table) JoinFirst(g Group, name []byte, h Sub) (m Membership, first bool) {
	s, si, hash := t.nameHash(g, name)
	s.mu.Lock()
	idx, gen, existed := s.joinFound(g, name, hash, h) // one lookup
	s.mu.Unlock()
	return makeMembership(si, idx, gen), !existed
}

// LeaveLast is Leave that, when m was its group's last member, appends the
// group's name to dst and reports true with the group's kind.
func (t *Table) LeaveLast(dst []byte, m Membership) (_ []byte, g Group, last bool) {
	s, mr, idx := t.lockMember(m)
	if s == nil {
		return dst, 0, false
	}
	defer s.mu.Unlock()
	if gr := s.groups.at(mr.group); gr.count == 1 {
		var name []byte
		name, g = s.entry(gr)
		dst, last = append(dst, name...), true
	}
	s.leave(idx, mr.gen)
	return dst, g, last
}
