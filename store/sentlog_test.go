package store

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pushwire/pushwire/conntable"
)

// TestSentLogBoundsAcks: an ack removes only ids written to the user's
// connections on this node; acknowledged entries still tell a replay what
// was sent, for a grace; expired ones leave; a full user drops acknowledged
// entries before unacknowledged ones.
func TestSentLogBoundsAcks(t *testing.T) {
	t.Parallel()
	const now = 1_000_000
	l := NewSentLog(4, 1<<10, 60_000)
	h1, h2 := conntable.Sub(1), conntable.Sub(2)
	u := []byte("u")
	l.Note(u, h1, 10, now+60_000, now)
	l.Note(u, h2, 20, 0, now) // no expiry known: defaultTTL
	l.Note(u, h1, 30, now+60_000, now)
	l.Note([]byte("other"), h1, 15, now+60_000, now)

	if got := l.UpTo(nil, u, 25); !slices.Equal(got, []uint64{10, 20}) {
		t.Errorf("upTo(25) = %v; want [10 20] (any connection of the user, not the other user's 15)", got)
	}
	if got := l.UpTo(nil, u, 9); len(got) != 0 {
		t.Errorf("upTo(9) = %v; want none: nothing that low was sent", got)
	}
	l.Forget(u, []uint64{10, 20}, []uint64{10, 20}, now)
	if got := l.UpTo(nil, u, 100); !slices.Equal(got, []uint64{30}) {
		t.Errorf("after forget(10, 20): upTo(100) = %v; want [30]", got)
	}
	if !l.Has(u, h1, 10) || l.Has(u, h2, 10) || !l.Has(u, h2, 20) {
		t.Errorf("has after the ack: want 10 on h1 and 20 on h2 still known (grace), 10 not on h2")
	}
	l.sweepAll(now + ackedGrace + 1)
	if l.Has(u, h1, 10) || !l.Has(u, h1, 30) {
		t.Errorf("after the grace: want 10 gone, 30 (unacknowledged) kept")
	}
	l.sweepAll(now + 60_001) // every message has expired
	if users, entries := l.Size(); users != 0 || entries != 0 {
		t.Errorf("after expiry: size = %d users, %d entries; want none", users, entries)
	}

	// An ack that does not find a message stored (its Put still on the way)
	// leaves it for the next ack, up to maxAckMisses.
	l.Note(u, h1, 40, now+60_000, now)
	l.Forget(u, []uint64{40}, nil, now)
	if got := l.UpTo(nil, u, 100); !slices.Equal(got, []uint64{40}) {
		t.Errorf("after one ack that missed 40: upTo = %v; want [40] still ackable", got)
	}
	l.Forget(u, []uint64{40}, nil, now)
	if got := l.UpTo(nil, u, 100); len(got) != 0 {
		t.Errorf("after %d acks that missed 40: upTo = %v; want it let go", maxAckMisses, got)
	}
	l.sweepAll(now + ackedGrace + 1)

	// Full (4 per user): an acknowledged entry makes room first.
	for id := uint64(1); id <= 4; id++ {
		l.Note(u, h1, id, now+120_000, now)
	}
	l.Forget(u, []uint64{3}, []uint64{3}, now)
	l.Note(u, h1, 5, now+120_000, now)
	if got := l.UpTo(nil, u, 100); !slices.Equal(got, []uint64{1, 2, 4, 5}) {
		t.Errorf("full user after an ack: upTo = %v; want [1 2 4 5] (the acked 3 made room)", got)
	}
	l.Note(u, h1, 6, now+120_000, now)
	if got := l.UpTo(nil, u, 100); !slices.Equal(got, []uint64{2, 4, 5, 6}) {
		t.Errorf("full user: upTo = %v; want [2 4 5 6] (the oldest goes: resent later, never acked away)", got)
	}
}

// sweepAll sweeps every shard once.
func (l *SentLog) sweepAll(nowMs int64) {
	for range sentShards {
		l.Sweep(nowMs)
	}
}

// BenchmarkSentLogNote is what the sent log adds to each QoS 1 message
// written (issue 9): one note, and per 50 messages of a user the ack that
// takes them (upTo, then forget), over 1000 users.
func BenchmarkSentLogNote(b *testing.B) {
	l := NewSentLog(2000, MaxSentEntries, 60_000)
	users := make([][]byte, 1000)
	for i := range users {
		users[i] = []byte(fmt.Sprintf("u%d", i))
	}
	var ids []uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := users[i%len(users)]
		l.Note(u, conntable.Sub(i%len(users)), uint64(i), 1<<62, 1)
		if i%(50*len(users)) == 50*len(users)-1 {
			for _, u := range users {
				ids = l.UpTo(ids[:0], u, uint64(i))
				l.Forget(u, ids, ids, 1)
			}
			l.sweepAll(1 + ackedGrace + 1)
		}
	}
}
