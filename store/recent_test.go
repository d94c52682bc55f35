package store

import (
	"slices"
	"testing"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/push"
)

func seqs(ms []*testMessage) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func newTestMessages(n int) []*testMessage {
	ms := make([]*testMessage, n)
	for i := range ms {
		ms[i] = newTestMessage(&push.Message{Seq: uint64(i + 1)})
	}
	return ms
}

// A topic keeps its last --topic-history messages, oldest first, and lets go
// of the ones pushed out; users keep nothing nobody asked for.
func TestRecentTopicHistory(t *testing.T) {
	t.Parallel()
	r := NewRecent[*testMessage](0, 3, time.Minute)
	ms := newTestMessages(5)
	for _, m := range ms {
		if !r.Record(conntable.Topics, []byte("news"), m) {
			t.Fatalf("Record(topic news, %d) = false; want true (history 3)", m.Seq)
		}
		if r.Record(conntable.Users, []byte("u"), m) {
			t.Fatalf("Record(user u, %d) = true; want false (no poll asked for u)", m.Seq)
		}
	}
	got := r.AppendSince(nil, conntable.Topics, []byte("news"), 0)
	if want := []uint64{3, 4, 5}; !slices.Equal(seqs(got), want) {
		t.Errorf("AppendSince(news, 0) = %v; want %v", seqs(got), want)
	}
	for _, m := range got {
		m.Release()
	}
	if got := r.AppendSince(nil, conntable.Topics, []byte("news"), 4); !slices.Equal(seqs(got), []uint64{5}) {
		t.Errorf("AppendSince(news, 4) = %v; want [5]", seqs(got))
	} else {
		got[0].Release()
	}
	// Each kept message holds one reference of the history's; the two pushed out none.
	for _, m := range ms {
		want := int32(1)
		if m.Seq >= 3 {
			want = 2
		}
		if n := m.refs.Load(); n != want {
			t.Errorf("message %d holds %d references; want %d", m.Seq, n, want)
		}
	}
}

// A name a long-poll client asked for keeps up to --poll-buffer messages
// until the interest ends; the sweep then lets them go.
func TestRecentPollBuffer(t *testing.T) {
	t.Parallel()
	r := NewRecent[*testMessage](2, 0, time.Second)
	now := time.Now()
	r.Interest(conntable.Users, []byte("u"), now)
	ms := newTestMessages(3)
	for _, m := range ms {
		if !r.Record(conntable.Users, []byte("u"), m) {
			t.Fatalf("Record(user u, %d) = false; want true (a poll asked for u)", m.Seq)
		}
	}
	if r.Record(conntable.Topics, []byte("t"), ms[0]) {
		t.Error("Record(topic t) = true; want false (no history, no poll interest)")
	}
	got := r.AppendSince(nil, conntable.Users, []byte("u"), 0)
	if want := []uint64{2, 3}; !slices.Equal(seqs(got), want) {
		t.Errorf("AppendSince(u, 0) = %v; want %v", seqs(got), want)
	}
	for _, m := range got {
		m.Release()
	}
	r.Sweep(now.Add(500 * time.Millisecond)) // interest still on
	if got := r.AppendSince(nil, conntable.Users, []byte("u"), 0); len(got) != 2 {
		t.Errorf("after a sweep within the interest, %d kept; want 2", len(got))
	} else {
		got[0].Release()
		got[1].Release()
	}
	r.Sweep(now.Add(2 * time.Second))
	if got := r.AppendSince(nil, conntable.Users, []byte("u"), 0); len(got) != 0 {
		t.Errorf("after the interest ended and a sweep, AppendSince(u) = %v; want none", seqs(got))
	}
	if r.Record(conntable.Users, []byte("u"), ms[0]) {
		t.Error("Record(user u) after the sweep = true; want false")
	}
	for _, m := range ms {
		if n := m.refs.Load(); n != 1 {
			t.Errorf("message %d holds %d references after the sweep; want 1 (only the test's)", m.Seq, n)
		}
	}
}
