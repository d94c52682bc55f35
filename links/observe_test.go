package links

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// countingObserver counts what it is told.
type countingObserver struct {
	rtts, queued atomic.Int64
	maxQueued    atomic.Int64
}

func (o *countingObserver) LinkRoundTrip(d time.Duration) {
	if d > 0 {
		o.rtts.Add(1)
	}
}

func (o *countingObserver) LinkQueued(n int) {
	o.queued.Add(1)
	for {
		m := o.maxQueued.Load()
		if int64(n) <= m || o.maxQueued.CompareAndSwap(m, int64(n)) {
			return
		}
	}
}

// A link tells its Observer one round trip and one queue depth per call
// that was answered; a call that failed is no round trip.
func TestObserverLinks(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	var obs countingObserver
	a := newLinks(t, store, "a", LinkOptions{Observer: &obs})
	for i := 0; i < 100; i++ {
		if _, err := a.Forward(bg, "b", &Push{ID: strconv.Itoa(i), To: "user:1"}); err != nil {
			t.Fatal(err)
		}
	}
	ps := make([]*Push, 10)
	for i := range ps {
		ps[i] = &Push{ID: strconv.Itoa(100 + i), To: "user:1"}
	}
	if _, err := a.ForwardBatch(bg, "b", ps); err != nil {
		t.Fatal(err)
	}
	if r, q := obs.rtts.Load(), obs.queued.Load(); r != 101 || q != 101 {
		t.Errorf("101 answered calls: %d round trips, %d queue depths observed; want 101 each", r, q)
	}
	if m := obs.maxQueued.Load(); m < 10 {
		t.Errorf("largest queue depth observed %d; want at least the batch's 10", m)
	}
	if _, err := a.Forward(bg, "nobody", &Push{ID: "x", To: "user:1"}); err == nil {
		t.Fatal("Forward to an unknown node succeeded")
	}
	if r := obs.rtts.Load(); r != 101 {
		t.Errorf("a failed call was observed as a round trip: %d", r)
	}
}
