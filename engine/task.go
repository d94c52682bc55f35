package engine

import (
	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"net/netip"
	"sync"
)

// Task is work handed to a loop from any goroutine. V usually holds a pointer (no allocation
// when stored in the interface). H may be zero for loop-wide work.
type Task struct {
	H  Handle
	Op uint32
	V  any
}

// handoff is an accepted socket passed from the accepting loop to the loop that will own it
// (single-acceptor mode only).
type handoff struct {
	fd   int
	tag  int
	tls  *tlslayer.Server // the listener's TLS server; nil for plaintext
	peer netip.Addr
}

// taskQueue hands work into one loop. Producers append under mu; the loop swaps the slices
// out and runs them without the lock, then gives the drained slice back as the next spare, so
// the steady state allocates nothing.
//
// The eventfd is written only when the loop may be asleep: awake is set by the first producer
// after the loop went to sleep (that producer writes the eventfd) and by the loop itself while
// it runs, and cleared by the loop just before it blocks in epoll_wait with an empty queue.
// A batch of Submits therefore costs one wake-up, and Submits to a running loop cost none.
//
// Lock contract: mu guards tasks, handoffs, awake and closed. The eventfd write happens with
// mu held so that it can never race with the loop closing the eventfd at Stop (closed is set
// under mu first). No other lock is taken while mu is held.
type taskQueue struct {
	mu       sync.Mutex
	tasks    []Task
	handoffs []handoff
	awake    bool
	closed   bool
	wakes    int64 // eventfd writes so far (tests check the coalescing)
	p        *sys.Poller
}

// push appends ts and wakes the loop if it may be asleep. Tasks given after the loop ended
// are dropped.
func (q *taskQueue) push(ts ...Task) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.tasks = append(q.tasks, ts...)
	q.wakeLocked()
	q.mu.Unlock()
}

func (q *taskQueue) pushOne(t Task) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.tasks = append(q.tasks, t)
	q.wakeLocked()
	q.mu.Unlock()
}

// pushHandoff passes an accepted socket to the loop. It reports false if the loop has ended
// (the caller then closes fd).
func (q *taskQueue) pushHandoff(a handoff) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.handoffs = append(q.handoffs, a)
	q.wakeLocked()
	q.mu.Unlock()
	return true
}

// wakeLocked writes the eventfd unless the loop is known to be awake. mu must be held.
func (q *taskQueue) wakeLocked() {
	if !q.awake {
		q.awake = true
		q.wakes++
		q.p.Trigger()
	}
}

// wakeAlways writes the eventfd regardless of awake (Stop uses it).
func (q *taskQueue) wakeAlways() {
	q.mu.Lock()
	if !q.closed {
		q.awake = true
		q.p.Trigger()
	}
	q.mu.Unlock()
}

// swap exchanges the queued work for the loop's empty spare slices and marks the loop awake.
func (q *taskQueue) swap(tasks []Task, hs []handoff) ([]Task, []handoff) {
	q.mu.Lock()
	tasks, q.tasks = q.tasks, tasks
	hs, q.handoffs = q.handoffs, hs
	q.awake = true
	q.mu.Unlock()
	return tasks, hs
}

// sleep reports whether the loop may block: true when nothing is queued, in which case the
// next producer wakes it.
func (q *taskQueue) sleep() bool {
	q.mu.Lock()
	idle := len(q.tasks) == 0 && len(q.handoffs) == 0
	if idle {
		q.awake = false
	}
	q.mu.Unlock()
	return idle
}

// close makes every later push a no-op and returns what was still queued.
func (q *taskQueue) close() ([]Task, []handoff) {
	q.mu.Lock()
	q.closed = true
	tasks, hs := q.tasks, q.handoffs
	q.tasks, q.handoffs = nil, nil
	q.mu.Unlock()
	return tasks, hs
}
