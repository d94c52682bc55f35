package store

import (
	"slices"
	"testing"
	"time"

	"github.com/pushwire/pushwire/conntable"
)

// Gap says a resume missed messages exactly when the ring let go of one newer
// than the cursor; AppendLast gives the newest n, oldest first.
func TestRecentGapAndLast(t *testing.T) {
	t.Parallel()
	r := NewRecent[*testMessage](0, 3, time.Minute)
	news := []byte("news")
	ms := newTestMessages(5)
	for _, m := range ms[:3] {
		r.Record(conntable.Topics, news, m)
	}
	if r.Gap(conntable.Topics, news, 0) {
		t.Error("Gap(news, 0) with nothing let go = true; want false")
	}
	for _, m := range ms[3:] { // 1 and 2 are let go of
		r.Record(conntable.Topics, news, m)
	}
	for after, want := range map[uint64]bool{0: true, 1: true, 2: false, 4: false} {
		if got := r.Gap(conntable.Topics, news, after); got != want {
			t.Errorf("Gap(news, %d) holding 3-5 = %v; want %v", after, got, want)
		}
	}
	if r.Gap(conntable.Topics, []byte("none"), 0) {
		t.Error("Gap(a name never kept) = true; want false")
	}
	for n, want := range map[int][]uint64{1: {5}, 2: {4, 5}, 3: {3, 4, 5}, 9: {3, 4, 5}} {
		got := r.AppendLast(nil, conntable.Topics, news, n)
		if !slices.Equal(seqs(got), want) {
			t.Errorf("AppendLast(news, %d) = %v; want %v", n, seqs(got), want)
		}
		for _, m := range got {
			m.Release()
		}
	}
	if got := r.AppendLast(nil, conntable.Topics, []byte("none"), 2); len(got) != 0 {
		t.Errorf("AppendLast(a name never kept) = %v; want nothing", seqs(got))
	}
}
