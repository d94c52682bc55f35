package store

import (
	"context"
	"slices"
	"testing"

	"github.com/pushwire/pushwire/push"
)

// TestStoreAckIDs: the standalone store removes exactly the listed ids.
func TestStoreAckIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemory[*testMessage](10, 1<<20)
	u := []byte("u")
	for _, id := range []uint64{1, 2, 3, 4} {
		m := newTestMessage(&push.Message{Seq: id, To: []byte("user:u"), Data: []byte("x"), QoS: 1})
		if err := s.Put(ctx, u, m, 0); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	if removed, _ := s.AckIDs(ctx, nil, u, []uint64{2, 4, 9}); len(removed) != 2 {
		t.Errorf("ackIDs(2, 4, 9) = %d; want 2", len(removed))
	}
	var left []uint64
	pending, _, _ := s.AppendPending(ctx, nil, u, 0)
	for _, m := range pending {
		left = append(left, m.Seq)
		m.Release()
	}
	if !slices.Equal(left, []uint64{1, 3}) {
		t.Errorf("pending after ackIDs = %v; want [1 3]", left)
	}
	if users, bytes := s.Counts(); users != 1 || bytes != 2 {
		t.Errorf("counts = %d users, %d bytes; want 1, 2", users, bytes)
	}
}

// The standalone store's bounds: --store-messages per user and --store-bytes
// in all; a message whose TTL ended frees its room at the next Put.
func TestMemoryBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemory[*testMessage](2, 10)
	msg := func(id uint64, expiry int64, data string) *testMessage {
		return newTestMessage(&push.Message{Seq: id, Expiry: expiry, To: []byte("user:u"), Data: []byte(data), QoS: 1})
	}
	u, v := []byte("u"), []byte("v")
	if err := s.Put(ctx, u, msg(1, 100, "aaaa"), 0); err != nil {
		t.Fatalf("Put(1) = %v; want nil", err)
	}
	if err := s.Put(ctx, u, msg(2, 0, "bb"), 0); err != nil {
		t.Fatalf("Put(2) = %v; want nil", err)
	}
	if err := s.Put(ctx, u, msg(3, 0, "c"), 0); err != ErrUserFull {
		t.Errorf("Put(3rd for u, 2 per user) = %v; want ErrUserFull", err)
	}
	if err := s.Put(ctx, v, msg(4, 0, "ddddd"), 0); err != ErrFull {
		t.Errorf("Put(5 bytes with 6 of 10 kept) = %v; want ErrFull", err)
	}
	// At 100 message 1 has expired: it makes room for user u and 4 bytes.
	if err := s.Put(ctx, u, msg(5, 0, "eeeee"), 100); err != nil {
		t.Errorf("Put(after message 1 expired) = %v; want nil", err)
	}
	pending, lost, _ := s.AppendPending(ctx, nil, u, 100)
	if got := seqs(pending); !slices.Equal(got, []uint64{2, 5}) || lost != 1 {
		t.Errorf("pending = %v, lost %d; want [2 5], lost 1 (message 1 expired unacknowledged)", got, lost)
	}
	for _, m := range pending {
		m.Release()
	}
	if users, bytes := s.Counts(); users != 1 || bytes != 7 {
		t.Errorf("counts = %d users, %d bytes; want 1, 7", users, bytes)
	}
}

// TestMemoryLostMark: a message that expires unacknowledged becomes the user's lost mark (the
// newest such id; acknowledged ones never count), remembered as long again as its TTL after
// it expired, at least an hour.
func TestMemoryLostMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewMemory[*testMessage](10, 1<<20)
	u := []byte("u")
	put := func(id uint64, timeMs, expiry int64) {
		t.Helper()
		m := newTestMessage(&push.Message{Seq: id, TimeMs: timeMs, Expiry: expiry, To: []byte("user:u"), Data: []byte("x"), QoS: 1})
		if err := s.Put(ctx, u, m, timeMs); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	lostAt := func(nowMs int64) uint64 {
		t.Helper()
		pending, lost, err := s.AppendPending(ctx, nil, u, nowMs)
		for _, m := range pending {
			m.Release()
		}
		if err != nil {
			t.Fatal(err)
		}
		return lost
	}
	put(1, 0, 100)
	put(2, 0, 200)
	put(3, 0, 10_000_000)
	if _, err := s.AckIDs(ctx, nil, u, []uint64{2}); err != nil {
		t.Fatal(err)
	}
	if got := lostAt(50); got != 0 {
		t.Errorf("lost before anything expired = %d; want 0", got)
	}
	if got := lostAt(300); got != 1 {
		t.Errorf("lost after 1 expired unacknowledged (2 acknowledged) = %d; want 1", got)
	}
	if got := lostAt(100 + lostKeepMinMs - 1); got != 1 {
		t.Errorf("lost an hour after = %d; want still 1", got)
	}
	if got := lostAt(100 + lostKeepMinMs); got != 0 {
		t.Errorf("lost past its keep time = %d; want 0 (forgotten)", got)
	}
	if got := lostAt(10_000_000); got != 3 {
		t.Errorf("lost after 3 expired = %d; want 3", got)
	}
	if got := lostAt(10_000_000 + 10_000_000 - 1); got != 3 {
		t.Errorf("lost within 3's TTL after it expired = %d; want 3 (kept as long again)", got)
	}
}
