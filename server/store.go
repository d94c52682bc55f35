package server

import (
	"errors"
	"slices"
	"sync"
)

// qosStore keeps QoS 1 messages per user until they are acknowledged or
// expire (SPEC §5), in bounded memory: --store-messages per user and
// --store-bytes in all. It is the standalone store; a cluster keeps them in
// Redis. Safe for concurrent use; mu guards everything.
type qosStore struct {
	mu       sync.Mutex
	perUser  int
	maxBytes int
	bytes    int
	users    map[string][]*message // each in increasing id order
}

var (
	errStoreUserFull = errors.New("this user already has --store-messages unacknowledged messages")
	errStoreFull     = errors.New("the QoS 1 store is full (--store-bytes)")
)

func newQoSStore(perUser, maxBytes int) *qosStore {
	return &qosStore{perUser: perUser, maxBytes: maxBytes, users: map[string][]*message{}}
}

// put keeps m for user, taking a reference. Expired messages of the user
// are dropped first, so a full queue frees itself as TTLs end.
func (s *qosStore) put(user []byte, m *message, nowMs int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.dropExpired(s.users[string(user)], nowMs)
	switch {
	case len(q) >= s.perUser:
		s.users[string(user)] = q
		return errStoreUserFull
	case s.bytes+len(m.Data) > s.maxBytes:
		s.users[string(user)] = q
		return errStoreFull
	}
	m.retain(1)
	s.bytes += len(m.Data)
	s.users[string(user)] = append(q, m)
	return nil
}

// ack drops the user's messages with ids up to upTo, sent or not (tests
// clear a queue with it; acks from clients go through ackIDs).
func (s *qosStore) ack(user []byte, upTo uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.users[string(user)]
	n := 0
	for n < len(q) && q[n].Seq <= upTo {
		s.bytes -= len(q[n].Data)
		q[n].Release()
		n++
	}
	s.setQueue(user, q, n)
	return n
}

// ackIDs drops the user's messages whose ids are listed (sorted): the ones
// this node sent to the user's connections, up to the acked id (sentlog.go).
func (s *qosStore) ackIDs(user []byte, ids []uint64) int {
	if len(ids) == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.users[string(user)]
	kept := q[:0]
	for _, m := range q {
		if _, acked := slices.BinarySearch(ids, m.Seq); acked {
			s.bytes -= len(m.Data)
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
	return n
}

// appendPending appends the user's unacknowledged messages, each with a
// reference the caller releases.
func (s *qosStore) appendPending(dst []*message, user []byte, nowMs int64) []*message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.users[string(user)]
	if !ok {
		return dst
	}
	q = s.dropExpired(q, nowMs)
	s.users[string(user)] = q
	for _, m := range q {
		m.retain(1)
		dst = append(dst, m)
	}
	if len(q) == 0 {
		delete(s.users, string(user))
	}
	return dst
}

// dropExpired removes the messages whose TTL has ended. s.mu must be held.
func (s *qosStore) dropExpired(q []*message, nowMs int64) []*message {
	kept := q[:0]
	for _, m := range q {
		if m.Expiry != 0 && m.Expiry <= nowMs {
			s.bytes -= len(m.Data)
			m.Release()
			continue
		}
		kept = append(kept, m)
	}
	clear(q[len(kept):])
	return kept
}

// setQueue stores q without its first n messages. s.mu must be held.
func (s *qosStore) setQueue(user []byte, q []*message, n int) {
	switch {
	case n == 0:
		return
	case n == len(q):
		delete(s.users, string(user))
		return
	}
	rest := copy(q, q[n:])
	clear(q[rest:])
	s.users[string(user)] = q[:rest]
}

// counts reports users with stored messages and the bytes kept.
func (s *qosStore) counts() (users, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users), s.bytes
}
