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
	pending, _ := s.AppendPending(ctx, nil, u, 0)
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
