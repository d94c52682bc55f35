package store

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/pushwire/pushwire/conntable"
)

// SentLog remembers, per user, the QoS 1 messages this node wrote to that
// user's streams and long-polls and that are not acknowledged yet: which id,
// to which connection, until when it is stored. It is what bounds an ack
// (SPEC §5, issue 9): an ack of id N removes only stored messages with id
// <= N that this node wrote to one of the user's connections — never one
// that is stored but was not sent (published while the user's directory
// entry was missing, or delivered out of id order by another node and not
// written yet). It also tells a replay which stored messages a stream has
// already been sent, so that a re-sync replays only what it missed.
//
// Only users with unacknowledged QoS 1 messages written on this node have an
// entry, so an idle connection costs it nothing. Entries go with the ack
// that removes their messages from the store, or when the message's TTL
// ends; a user keeps at most perUser (--store-messages: no store holds more
// for it) and the log at most maxEntries in all. An entry dropped for room
// only makes its message un-ackable here, so it is resent on a reconnect:
// at-least-once holds either way.
//
// Safe for concurrent use: the loops write to it, the router acks through
// it. Sharded by user so that loops rarely meet on a lock.
type SentLog struct {
	seed       maphash.Seed
	perUser    int
	maxEntries int
	defaultTTL int64 // ms: the lifetime of an entry whose message carries no expiry (forwarded)
	next       int   // the shard sweep visits next; only the server's sweep goroutine uses it
	shards     [sentShards]sentShard
}

const sentShards = 16

// MaxSentEntries bounds the log: 24 bytes an entry, ~50 MB at most.
const MaxSentEntries = 1 << 21

type sentShard struct {
	mu      sync.Mutex
	entries int
	users   map[string]*sentUser
}

// sentUser is one user's entries, in the order written; reached by pointer
// so that a note for a known user updates it without storing the key again.
type sentUser struct {
	q []SentEntry
}

// SentEntry is one message written to one stream.
type SentEntry struct {
	ID     uint64
	Expiry int64         // unix ms
	Sub    conntable.Sub // the stream it was written to
	Acked  int64         // unix ms when an ack removed it from the store; 0 = not yet
	Missed uint8         // acks that covered it but did not find it stored
}

// maxAckMisses is how many acks may cover an entry without finding its
// message stored before it is let go: a local delivery is written before its
// Put, so the first ack may come too soon, but a message still not stored
// after two acks never will be (its Put failed and the publish said so).
const maxAckMisses = 2

// ackedGrace is how long an acknowledged entry is kept: a replay may have
// read the store just before the ack removed its message, and must still
// see that the stream was sent it (rather than write it again).
const ackedGrace = 10 * 1000 // ms

func NewSentLog(perUser, maxEntries int, defaultTTLms int64) *SentLog {
	l := &SentLog{seed: maphash.MakeSeed(), perUser: max(perUser, 1), maxEntries: maxEntries, defaultTTL: defaultTTLms}
	for i := range l.shards {
		l.shards[i].users = map[string]*sentUser{}
	}
	return l
}

func (l *SentLog) shard(user []byte) *sentShard {
	return &l.shards[maphash.Bytes(l.seed, user)%sentShards]
}

// Note records that message id (stored until expiry; 0 = unknown) was
// written to connection h of user.
func (l *SentLog) Note(user []byte, h conntable.Sub, id uint64, expiry, nowMs int64) {
	if expiry == 0 {
		expiry = nowMs + l.defaultTTL
	}
	sh := l.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[string(user)]
	if u == nil {
		if sh.entries >= l.maxEntries/sentShards {
			return // full: this message is resent on reconnect rather than ackable here
		}
		u = &sentUser{}
		sh.users[string(user)] = u // a new user: its name is the one allocation
	}
	if len(u.q) >= l.perUser {
		u.q = sh.dropExpired(u.q, nowMs)
		if len(u.q) >= l.perUser {
			// The oldest acknowledged entry goes, else the oldest: its message
			// becomes un-ackable here, so it is resent later, never lost.
			i := slices.IndexFunc(u.q, func(e SentEntry) bool { return e.Acked != 0 })
			u.q = slices.Delete(u.q, max(i, 0), max(i, 0)+1)
			sh.entries--
		}
	}
	if sh.entries >= l.maxEntries/sentShards {
		return
	}
	sh.entries++
	u.q = append(u.q, SentEntry{ID: id, Expiry: expiry, Sub: h})
}

// dropExpired removes entries whose messages have expired, and those
// acknowledged more than ackedGrace ago. sh.mu must be held.
func (sh *sentShard) dropExpired(q []SentEntry, nowMs int64) []SentEntry {
	kept := q[:0]
	for _, e := range q {
		if e.Expiry > nowMs && (e.Acked == 0 || nowMs-e.Acked < ackedGrace) {
			kept = append(kept, e)
		}
	}
	sh.entries -= len(q) - len(kept)
	return kept
}

// UpTo appends to dst, sorted and without repeats, the ids <= upTo written
// to any connection of user on this node: what an ack of upTo removes.
func (l *SentLog) UpTo(dst []uint64, user []byte, upTo uint64) []uint64 {
	sh := l.shard(user)
	sh.mu.Lock()
	if u := sh.users[string(user)]; u != nil {
		for _, e := range u.q {
			if e.ID <= upTo && e.Acked == 0 {
				dst = append(dst, e.ID)
			}
		}
	}
	sh.mu.Unlock()
	slices.Sort(dst)
	return slices.Compact(dst)
}

// Forget settles an ack: tried (sorted) are the ids it covered, removed
// (sorted) those the store held and removed. Removed entries are marked
// acknowledged (they leave after ackedGrace); the others stay for the next
// ack, up to maxAckMisses times.
func (l *SentLog) Forget(user []byte, tried, removed []uint64, nowMs int64) {
	if len(tried) == 0 {
		return
	}
	sh := l.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[string(user)]
	if u == nil {
		return
	}
	for i := range u.q {
		e := &u.q[i]
		if e.Acked != 0 {
			continue
		}
		if _, ok := slices.BinarySearch(removed, e.ID); ok {
			e.Acked = nowMs
		} else if _, ok := slices.BinarySearch(tried, e.ID); ok {
			if e.Missed++; e.Missed >= maxAckMisses {
				e.Acked = nowMs
			}
		}
	}
}

// Has reports whether id was written to h (acknowledged since or not).
func (l *SentLog) Has(user []byte, h conntable.Sub, id uint64) bool {
	sh := l.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if u := sh.users[string(user)]; u != nil {
		for _, e := range u.q {
			if e.ID == id && e.Sub == h {
				return true
			}
		}
	}
	return false
}

// AppendEntries appends a copy of user's entries to dst.
func (l *SentLog) AppendEntries(dst []SentEntry, user []byte) []SentEntry {
	sh := l.shard(user)
	sh.mu.Lock()
	if u := sh.users[string(user)]; u != nil {
		dst = append(dst, u.q...)
	}
	sh.mu.Unlock()
	return dst
}

// Size reports the users and entries held (for tests and /stats).
func (l *SentLog) Size() (users, entries int) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		users += len(sh.users)
		entries += sh.entries
		sh.mu.Unlock()
	}
	return users, entries
}

// SentTo reports whether entries hold id written to h, and whether to any
// connection at all.
func SentTo(entries []SentEntry, h conntable.Sub, id uint64) (toH, toAny bool) {
	for _, e := range entries {
		if e.ID == id {
			toAny = true
			if e.Sub == h {
				return true, true
			}
		}
	}
	return false, toAny
}

// Sweep drops the expired entries of one shard, the next each call (the
// server calls it every second), so users who never come back to ack leave.
func (l *SentLog) Sweep(nowMs int64) {
	sh := &l.shards[l.next%sentShards]
	l.next++
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for name, u := range sh.users {
		if u.q = sh.dropExpired(u.q, nowMs); len(u.q) == 0 {
			delete(sh.users, name)
		}
	}
}

// Export calls fn with each user's entries, in the order written, under the
// user's shard lock (fn must not call the log). An upgrade hands them to its
// successor (upgrade/qos.go), which gives them to Restore.
func (l *SentLog) Export(fn func(user string, entries []SentEntry)) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for user, u := range sh.users {
			fn(user, u.q)
		}
		sh.mu.Unlock()
	}
}

// Restore notes entries of user exported by a predecessor (Export),
// acknowledged times and miss counts included.
func (l *SentLog) Restore(user []byte, entries []SentEntry, nowMs int64) {
	for _, e := range entries {
		l.Note(user, e.Sub, e.ID, e.Expiry, nowMs)
	}
	sh := l.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[string(user)]
	if u == nil {
		return
	}
	// Both are in the order written (Note may have dropped some for room).
	j := 0
	for k := range u.q {
		for j < len(entries) && (entries[j].ID != u.q[k].ID || entries[j].Sub != u.q[k].Sub) {
			j++
		}
		if j == len(entries) {
			return
		}
		u.q[k].Acked, u.q[k].Missed = entries[j].Acked, entries[j].Missed
		j++
	}
}
