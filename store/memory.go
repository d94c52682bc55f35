package store

import (
	"context"
	"slices"
	"sync"
)

// Memory is the standalone Mailbox: each user's messages by reference, in
// bounded memory (perUser messages per user, maxBytes of data in all). Its
// calls never wait, so the loops make them directly. mu guards everything.
type Memory[M Message] struct {
	mu       sync.Mutex
	perUser  int
	maxBytes int
	bytes    int
	users    map[string][]M // each in increasing id order
	lost     map[string]lostMark
}

// NewMemory keeps at most perUser messages per user (--store-messages) and
// maxBytes of message data in all (--store-bytes).
func NewMemory[M Message](perUser, maxBytes int) *Memory[M] {
	return &Memory[M]{perUser: perUser, maxBytes: maxBytes, users: map[string][]M{}, lost: map[string]lostMark{}}
}

// Put keeps m for user, taking a reference. Expired messages of the user are
// dropped first, so a full queue frees itself as TTLs end.
func (s *Memory[M]) Put(_ context.Context, user []byte, m M, nowMs int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.dropExpired(user, s.users[string(user)], nowMs)
	size := len(m.Push().Data)
	switch {
	case len(q) >= s.perUser:
		s.users[string(user)] = q
		return ErrUserFull
	case s.bytes+size > s.maxBytes:
		// A refused user keeps no entry: a flood of publishes to new users
		// while the store is full must not grow the map.
		if len(q) == 0 {
			delete(s.users, string(user))
		} else {
			s.users[string(user)] = q
		}
		return ErrFull
	}
	m.Retain()
	s.bytes += size
	s.users[string(user)] = append(q, m)
	return nil
}

// AckIDs drops the user's messages whose ids are listed (sorted): the ones
// this node sent to the user's connections, up to the acked id.
func (s *Memory[M]) AckIDs(_ context.Context, dst []uint64, user []byte, ids []uint64) ([]uint64, error) {
	if len(ids) == 0 {
		return dst, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.users[string(user)]
	kept := q[:0]
	for _, m := range q {
		p := m.Push()
		if _, acked := slices.BinarySearch(ids, p.Seq); acked {
			s.bytes -= len(p.Data)
			dst = append(dst, p.Seq)
			m.Release()
			continue
		}
		kept = append(kept, m)
	}
	n := len(q) - len(kept)
	clear(q[len(kept):])
	switch {
	case n == 0:
	case len(kept) == 0:
		delete(s.users, string(user))
	default:
		s.users[string(user)] = kept
	}
	return dst, nil
}

// AppendPending appends the user's unacknowledged messages, each with a
// reference the caller releases, and returns the user's lost mark.
func (s *Memory[M]) AppendPending(_ context.Context, dst []M, user []byte, nowMs int64) ([]M, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.users[string(user)]
	if !ok {
		return dst, s.lostOf(string(user), nowMs), nil
	}
	q = s.dropExpired(user, q, nowMs)
	s.users[string(user)] = q
	for _, m := range q {
		m.Retain()
		dst = append(dst, m)
	}
	if len(q) == 0 {
		delete(s.users, string(user))
	}
	return dst, s.lostOf(string(user), nowMs), nil
}

// dropExpired removes user's messages whose TTL has ended, noting them lost.
// s.mu must be held.
func (s *Memory[M]) dropExpired(user []byte, q []M, nowMs int64) []M {
	kept := q[:0]
	for _, m := range q {
		if p := m.Push(); p.Expiry != 0 && p.Expiry <= nowMs {
			s.noteLost(string(user), p.Seq, p.TimeMs, p.Expiry)
			s.bytes -= len(p.Data)
			m.Release()
			continue
		}
		kept = append(kept, m)
	}
	clear(q[len(kept):])
	return kept
}

// Counts reports users with stored messages and the bytes kept.
func (s *Memory[M]) Counts() (users, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users), s.bytes
}

// Each calls f with every message kept, user by user, in increasing id order,
// under the store's lock (f must not call the store). A zero-downtime upgrade
// hands them to the new process this way (upgrade/qos.go).
func (s *Memory[M]) Each(f func(user string, m M)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for user, q := range s.users {
		for _, m := range q {
			f(user, m)
		}
	}
}
