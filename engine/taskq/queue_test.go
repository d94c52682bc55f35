package taskq

import (
	"testing"

	"github.com/pushwire/pushwire/engine/sys"
)

// TestWakeups: pushes to a loop that may sleep write the eventfd once until the loop swaps
// the work out; pushes while it runs write nothing; after Close pushes are dropped and an
// accepted socket is refused.
func TestWakeups(t *testing.T) {
	p, err := sys.OpenPoller(-1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	q := New[int](&p)
	if !q.Sleep() {
		t.Fatal("Sleep on an empty queue = false")
	}
	for i := range 100 {
		q.PushOne(i)
	}
	q.Push(100, 101)
	if !q.PushAccepted(Accepted{FD: -1, Tag: 7}) {
		t.Fatal("PushAccepted to an open queue = false")
	}
	if n, w := q.Stats(); n != 102 || w != 1 {
		t.Fatalf("after 102 pushes to a sleeping loop: %d queued, %d wake-ups; want 102, 1", n, w)
	}
	if q.Sleep() {
		t.Fatal("Sleep with work queued = true")
	}
	tasks, as := q.Swap(nil, nil)
	if len(tasks) != 102 || tasks[101] != 101 || len(as) != 1 || as[0].Tag != 7 {
		t.Fatalf("Swap = %d tasks, %v; want 102 in order and the accepted socket", len(tasks), as)
	}
	q.PushOne(1) // the loop is awake: no write
	if _, w := q.Stats(); w != 1 {
		t.Fatalf("a push to a running loop wrote the eventfd: %d wake-ups", w)
	}
	rest, _ := q.Close()
	q.PushOne(2)
	if len(rest) != 1 || q.PushAccepted(Accepted{}) {
		t.Fatalf("Close returned %v and PushAccepted after it succeeded", rest)
	}
	if n, _ := q.Stats(); n != 0 {
		t.Fatalf("%d tasks queued after Close", n)
	}
}
