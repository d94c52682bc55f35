package store

// What a mailbox let go of (SPEC §3 gap): a QoS 1 message that expired
// before any connection of its user acknowledged it is lost to that user,
// and a client that resumes from an id older than it must learn so. Each
// mailbox remembers, per user, the newest id it dropped unacknowledged (the
// user's lost mark); a resume from an older cursor starts with the gap frame.
//
// Only expiries count. An acknowledged message was delivered to the user
// (QoS 1 is per user), so a second device that resumes from before it is not
// told of a gap; the per-user limit refuses new messages (503) rather than
// dropping old ones, so it loses nothing.
//
// A mark is remembered as long again as the message's TTL after it expired,
// and at least lostKeepMinMs: a user who comes back later than that is not
// told (the Redis key, or the memory entry, is gone by then).

// lostKeepMinMs is the least time a lost mark is remembered after its
// message expired.
const lostKeepMinMs = 3600 * 1000

// lostUntil is when the lost mark of a message published at timeMs that
// expired at expiry may be forgotten.
func lostUntil(timeMs, expiry int64) int64 {
	return expiry + max(expiry-timeMs, lostKeepMinMs)
}

// maxLostMarks bounds the marks Memory remembers; past it the marks whose
// time is over go first, then arbitrary ones (a forgotten mark only means a
// resume that is not told of its gap).
const maxLostMarks = 1 << 16

type lostMark struct {
	id    uint64
	until int64 // unix ms
}

// noteLost remembers that user lost message id, published at timeMs and
// expired at expiry. s.mu must be held.
func (s *Memory[M]) noteLost(user string, id uint64, timeMs, expiry int64) {
	mk, ok := s.lost[user]
	if ok && mk.id >= id {
		return
	}
	if !ok && len(s.lost) >= maxLostMarks {
		s.pruneLost(expiry)
	}
	s.lost[user] = lostMark{id: id, until: lostUntil(timeMs, expiry)}
}

// pruneLost forgets the marks whose time is over at nowMs, and if that
// frees nothing, an eighth of them. s.mu must be held.
func (s *Memory[M]) pruneLost(nowMs int64) {
	n := len(s.lost)
	for u, mk := range s.lost {
		if mk.until <= nowMs {
			delete(s.lost, u)
		}
	}
	for u := range s.lost {
		if len(s.lost) > n-n/8 {
			delete(s.lost, u)
			continue
		}
		break
	}
}

// lostOf returns user's lost mark at nowMs (0 when none). s.mu must be held.
func (s *Memory[M]) lostOf(user string, nowMs int64) uint64 {
	mk, ok := s.lost[user]
	if !ok {
		return 0
	}
	if mk.until <= nowMs {
		delete(s.lost, user)
		return 0
	}
	return mk.id
}
