package push

import (
	"testing"
	"time"
)

func TestIDsOrderedAndNamed(t *testing.T) {
	var a, b IDs
	a.Init("a", 0)
	b.Init("b", 0)
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	prev := uint64(0)
	for i := range 40 { // more than the 16 a µs the counter holds: the clock is borrowed ahead
		id := a.Next(now)
		if id <= prev || id < IDFloor(now) {
			t.Fatalf("id %d = %d after %d, floor %d; want increasing, at or above the floor", i, id, prev, IDFloor(now))
		}
		if id&(1<<idNodeBits-1) != a.node {
			t.Fatalf("id %d = %d does not carry node a's bits %d", i, id, a.node)
		}
		prev = id
	}
	if a.Last() != prev {
		t.Errorf("Last = %d; want %d", a.Last(), prev)
	}
	if a.node == b.node {
		t.Fatalf("nodes a and b share their id bits %d", a.node)
	}
	if later := a.Next(now.Add(time.Second)); later>>idTimeShift != IDFloor(now.Add(time.Second))>>idTimeShift {
		t.Errorf("an id a second later = %d; want its time part to be the clock's", later)
	}
	var c IDs
	c.Init("a", prev) // an upgrade's successor goes on after the old process's last id
	if id := c.Next(now); id <= prev {
		t.Errorf("Next after Init(a, %d) = %d; want above it", prev, id)
	}
}
