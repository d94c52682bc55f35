// Package taskq is the hand-over queue into one event loop: work any goroutine gives the
// loop (the engine's Tasks) and sockets another loop accepted for it, with one coalesced
// eventfd wake-up for a run of pushes. Only the engine imports it.
package taskq

import (
	"net/netip"
	"sync"

	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
)

// Accepted is a socket accepted by one loop for another (single-acceptor mode).
type Accepted struct {
	FD   int
	Tag  int              // the listener's tag
	TLS  *tlslayer.Server // the listener's TLS server; nil for plaintext
	Peer netip.Addr
}

// Queue hands work of type T, and accepted sockets, into one loop. Producers append under
// mu; the loop swaps the slices out and runs them without the lock, then gives the drained
// slices back as the next spares, so the steady state allocates nothing.
//
// The eventfd is written only when the loop may be asleep: awake is set by the first
// producer after the loop went to sleep (that producer writes the eventfd) and by the loop
// itself while it runs, and cleared by the loop just before it blocks in epoll_wait with an
// empty queue. A batch of pushes therefore costs one wake-up, and pushes to a running loop
// cost none.
//
// Lock contract: mu guards tasks, accepted, awake, closed and wakes. The eventfd write
// happens with mu held so that it can never race with the loop closing the eventfd at Stop
// (closed is set under mu first). No other lock is taken while mu is held.
type Queue[T any] struct {
	mu       sync.Mutex
	tasks    []T
	accepted []Accepted
	awake    bool
	closed   bool
	wakes    int64 // eventfd writes so far (tests check the coalescing)
	p        *sys.Poller
}

// New returns a queue that wakes the loop through p's eventfd.
func New[T any](p *sys.Poller) Queue[T] { return Queue[T]{p: p} }

// Push appends ts and wakes the loop if it may be asleep. Tasks given after Close are
// dropped.
func (q *Queue[T]) Push(ts ...T) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.tasks = append(q.tasks, ts...)
	q.wakeLocked()
	q.mu.Unlock()
}

// PushOne is Push of one task.
func (q *Queue[T]) PushOne(t T) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.tasks = append(q.tasks, t)
	q.wakeLocked()
	q.mu.Unlock()
}

// PushAccepted passes an accepted socket to the loop. It reports false if the queue is
// closed (the caller then closes the socket).
func (q *Queue[T]) PushAccepted(a Accepted) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.accepted = append(q.accepted, a)
	q.wakeLocked()
	q.mu.Unlock()
	return true
}

// wakeLocked writes the eventfd unless the loop is known to be awake. mu must be held.
func (q *Queue[T]) wakeLocked() {
	if !q.awake {
		q.awake = true
		q.wakes++
		q.p.Trigger()
	}
}

// WakeAlways writes the eventfd regardless of awake (the engine's Stop).
func (q *Queue[T]) WakeAlways() {
	q.mu.Lock()
	if !q.closed {
		q.awake = true
		q.p.Trigger()
	}
	q.mu.Unlock()
}

// Swap exchanges the queued work for the loop's empty spare slices and marks the loop
// awake.
func (q *Queue[T]) Swap(tasks []T, as []Accepted) ([]T, []Accepted) {
	q.mu.Lock()
	tasks, q.tasks = q.tasks, tasks
	as, q.accepted = q.accepted, as
	q.awake = true
	q.mu.Unlock()
	return tasks, as
}

// Sleep reports whether the loop may block: true when nothing is queued, in which case the
// next producer wakes it.
func (q *Queue[T]) Sleep() bool {
	q.mu.Lock()
	idle := len(q.tasks) == 0 && len(q.accepted) == 0
	if idle {
		q.awake = false
	}
	q.mu.Unlock()
	return idle
}

// Close makes every later push a no-op and returns what was still queued.
func (q *Queue[T]) Close() ([]T, []Accepted) {
	q.mu.Lock()
	q.closed = true
	tasks, as := q.tasks, q.accepted
	q.tasks, q.accepted = nil, nil
	q.mu.Unlock()
	return tasks, as
}

// Stats returns how many tasks are queued and how many eventfd writes were made so far.
func (q *Queue[T]) Stats() (queued int, wakes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.tasks), q.wakes
}
