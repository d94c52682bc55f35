package conntable

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// ms is t0 plus n milliseconds.
func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// advance runs w.Advance and returns the handles fired, in firing order.
func advance(w *Wheel, now time.Time) []Handle {
	var got []Handle
	w.Advance(now, func(h Handle, _ TimerID) { got = append(got, h) })
	return got
}

func TestWheel(t *testing.T) {
	t.Parallel()
	type sched struct {
		h  Handle
		at int // ms after t0
	}
	type step struct {
		at   int // Advance to this ms
		want []Handle
	}
	cases := []struct {
		name   string
		slots  int
		sched  []sched
		cancel []int // indexes into sched
		steps  []step
	}{
		{"fires in due order", 16, []sched{{3, 30}, {1, 10}, {2, 20}}, nil,
			[]step{{5, nil}, {25, []Handle{1, 2}}, {30, []Handle{3}}, {100, nil}}},
		{"never early, at most one tick late", 16, []sched{{1, 15}}, nil,
			[]step{{14, nil}, {19, nil}, {20, []Handle{1}}}},
		{"cancel", 16, []sched{{1, 10}, {2, 10}, {3, 10}}, []int{1},
			[]step{{10, []Handle{1, 3}}}},
		{"cancel head and tail of a slot", 16, []sched{{1, 10}, {2, 10}, {3, 10}}, []int{0, 2},
			[]step{{10, []Handle{2}}}},
		{"wrap-around: due a few turns out", 8, []sched{{1, 10}, {2, 90}, {3, 250}}, nil,
			[]step{{80, []Handle{1}}, {89, nil}, {90, []Handle{2}}, {240, nil}, {250, []Handle{3}}}},
		{"time jump past many turns fires everything due", 8, []sched{{1, 10}, {2, 95}, {3, 500}, {4, 501}}, nil,
			[]step{{500, []Handle{1, 2, 3}}, {509, nil}, {510, []Handle{4}}}},
		{"past time fires at next Advance", 16, []sched{{1, -50}, {2, 0}}, nil,
			[]step{{10, []Handle{1, 2}}}},
		{"time going back is ignored", 16, []sched{{1, 30}}, nil,
			[]step{{20, nil}, {5, nil}, {30, []Handle{1}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWheel(10*time.Millisecond, c.slots, t0)
			ids := make([]TimerID, len(c.sched))
			for i, s := range c.sched {
				ids[i] = w.Schedule(s.h, ms(s.at))
			}
			for _, i := range c.cancel {
				w.Cancel(ids[i])
			}
			for _, s := range c.steps {
				got := advance(w, ms(s.at))
				// Within one slot the order is unspecified; across slots it is due order.
				if c.name != "fires in due order" {
					slices.Sort(got)
				}
				if !slices.Equal(got, s.want) {
					t.Fatalf("Advance(%dms) fired %v; want %v", s.at, got, s.want)
				}
			}
		})
	}
}

func TestWheelStaleIDs(t *testing.T) {
	t.Parallel()
	w := NewWheel(time.Millisecond, 8, t0)
	fired := w.Schedule(1, ms(1))
	advance(w, ms(1))
	cancelled := w.Schedule(2, ms(5))
	w.Cancel(cancelled)
	// Both records are now recycled by new timers; the old IDs must not touch them.
	a := w.Schedule(3, ms(3))
	b := w.Schedule(4, ms(3))
	w.Cancel(fired)
	w.Cancel(cancelled)
	w.Cancel(0)
	w.Cancel(^TimerID(0))
	if got := advance(w, ms(3)); len(got) != 2 {
		t.Fatalf("after stale Cancels, Advance fired %v; want both live timers [3 4]", got)
	}
	if a == fired && b == cancelled || a == cancelled && b == fired {
		t.Fatal("recycled records reused an old TimerID; generations must differ")
	}
}

func TestWheelReentrant(t *testing.T) {
	t.Parallel()
	w := NewWheel(time.Millisecond, 8, t0)
	victim := w.Schedule(2, ms(1))
	w.Schedule(1, ms(1))
	w.Schedule(3, ms(1))
	var got []Handle
	w.Advance(ms(2), func(h Handle, id TimerID) {
		got = append(got, h)
		w.Cancel(victim)        // cancels a timer pending in this very batch (or a no-op)
		w.Cancel(id)            // cancelling the firing timer itself is a no-op
		w.Schedule(h+10, ms(0)) // rescheduled in the past: next Advance, not this one
	})
	if i := slices.Index(got, 2); i > 0 {
		t.Fatalf("fired %v: the victim fired after an earlier fire cancelled it", got)
	}
	again := advance(w, ms(3))
	if len(again) != len(got) {
		t.Fatalf("next Advance fired %v; want one rescheduled timer per fired one (%v)", again, got)
	}
}

func TestWheelNoAllocs(t *testing.T) {
	w := NewWheel(time.Millisecond, 64, t0)
	now := 0
	fire := func(Handle, TimerID) {}
	// Warm the slab and scratch once, then steady state must not allocate.
	for i := range 100 {
		w.Schedule(Handle(i), ms(i%10))
	}
	advance(w, ms(20))
	now = 20
	n := testing.AllocsPerRun(100, func() {
		for i := range 50 {
			id := w.Schedule(Handle(i), ms(now+1+i%5))
			if i%3 == 0 {
				w.Cancel(id)
			}
		}
		now += 10
		w.Advance(ms(now), fire)
	})
	if n != 0 {
		t.Fatalf("Schedule/Cancel/Advance: %v allocs/op; want 0", n)
	}
}
