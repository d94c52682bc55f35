package server

import (
	"slices"
	"testing"

	"github.com/pushwire/pushwire/engine"
)

// TestSentLogBoundsAcks: an ack removes only ids written to the user's
// connections on this node; acknowledged entries still tell a replay what
// was sent, for a grace; expired ones leave; a full user drops acknowledged
// entries before unacknowledged ones.
func TestSentLogBoundsAcks(t *testing.T) {
	t.Parallel()
	const now = 1_000_000
	l := newSentLog(4, 1<<10, 60_000)
	h1, h2 := engine.Handle(1), engine.Handle(2)
	u := []byte("u")
	l.note(u, h1, 10, now+60_000, now)
	l.note(u, h2, 20, 0, now) // no expiry known: defaultTTL
	l.note(u, h1, 30, now+60_000, now)
	l.note([]byte("other"), h1, 15, now+60_000, now)

	if got := l.upTo(nil, u, 25); !slices.Equal(got, []uint64{10, 20}) {
		t.Errorf("upTo(25) = %v; want [10 20] (any connection of the user, not the other user's 15)", got)
	}
	if got := l.upTo(nil, u, 9); len(got) != 0 {
		t.Errorf("upTo(9) = %v; want none: nothing that low was sent", got)
	}
	l.forget(u, []uint64{10, 20}, []uint64{10, 20}, now)
	if got := l.upTo(nil, u, 100); !slices.Equal(got, []uint64{30}) {
		t.Errorf("after forget(10, 20): upTo(100) = %v; want [30]", got)
	}
	if !l.has(u, h1, 10) || l.has(u, h2, 10) || !l.has(u, h2, 20) {
		t.Errorf("has after the ack: want 10 on h1 and 20 on h2 still known (grace), 10 not on h2")
	}
	l.sweepAll(now + ackedGrace + 1)
	if l.has(u, h1, 10) || !l.has(u, h1, 30) {
		t.Errorf("after the grace: want 10 gone, 30 (unacknowledged) kept")
	}
	l.sweepAll(now + 60_001) // every message has expired
	if users, entries := l.size(); users != 0 || entries != 0 {
		t.Errorf("after expiry: size = %d users, %d entries; want none", users, entries)
	}

	// An ack that does not find a message stored (its Put still on the way)
	// leaves it for the next ack, up to maxAckMisses.
	l.note(u, h1, 40, now+60_000, now)
	l.forget(u, []uint64{40}, nil, now)
	if got := l.upTo(nil, u, 100); !slices.Equal(got, []uint64{40}) {
		t.Errorf("after one ack that missed 40: upTo = %v; want [40] still ackable", got)
	}
	l.forget(u, []uint64{40}, nil, now)
	if got := l.upTo(nil, u, 100); len(got) != 0 {
		t.Errorf("after %d acks that missed 40: upTo = %v; want it let go", maxAckMisses, got)
	}
	l.sweepAll(now + ackedGrace + 1)

	// Full (4 per user): an acknowledged entry makes room first.
	for id := uint64(1); id <= 4; id++ {
		l.note(u, h1, id, now+120_000, now)
	}
	l.forget(u, []uint64{3}, []uint64{3}, now)
	l.note(u, h1, 5, now+120_000, now)
	if got := l.upTo(nil, u, 100); !slices.Equal(got, []uint64{1, 2, 4, 5}) {
		t.Errorf("full user after an ack: upTo = %v; want [1 2 4 5] (the acked 3 made room)", got)
	}
	l.note(u, h1, 6, now+120_000, now)
	if got := l.upTo(nil, u, 100); !slices.Equal(got, []uint64{2, 4, 5, 6}) {
		t.Errorf("full user: upTo = %v; want [2 4 5 6] (the oldest goes: resent later, never acked away)", got)
	}
}

// sweepAll sweeps every shard once.
func (l *sentLog) sweepAll(nowMs int64) {
	for range sentShards {
		l.sweep(nowMs)
	}
}
