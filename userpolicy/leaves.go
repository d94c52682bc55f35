package userpolicy

import (
	"context"
	"sync"
	"time"

	"github.com/pushwire/pushwire/admit"
)

// The per-user policy's Leaves in Redis (StreamLeft, admission.go) go
// through one queue per node and one goroutine, not the router. On the
// router a mass disconnect filled its queue (4,096 jobs behind 1,024
// workers) and the rest were dropped, as was any Leave that failed while
// Redis was away: their keys stayed in pw:uc:<user>, and a user who never
// came back kept them for good. Here a Leave waits its turn, grouped by
// user, and one that fails is tried again.
type userLeaves struct {
	mu      sync.Mutex
	pending map[string][]string // user → conn keys whose streams ended
	n       int                 // keys in pending
	wake    chan struct{}       // one wake-up pending at most
	done    chan struct{}
	wg      sync.WaitGroup
}

// maxPendingLeaves bounds the keys waiting (Redis away during a mass
// disconnect); past it a Leave is dropped: the admission script drops keys of
// dead nodes, a refusal the keys no node holds (staleKeys).
const maxPendingLeaves = 1 << 20

// retryLeaves is the wait before Leaves that failed are tried again.
const retryLeaves = time.Second

// leaveBatch is the users' Leaves sent in one pipeline: a mass disconnect of
// 1M users is ~2k round trips, not 1M (34 µs each on loopback: 34 s; at a
// real network's 0.2-1 ms, minutes).
const leaveBatch = 512

// stopLeavesFor bounds the last pass at Close (SIGTERM after the drain), so a
// node with many Leaves pending and a slow Redis still exits within its
// service manager's stop timeout. What is left then is dropped: the
// admission script drops keys of nodes no longer live the next time their
// user subscribes (Close unregisters the node), a refusal the keys no node
// holds (staleKeys), and the janitor those of a node that died.
const stopLeavesFor = 5 * time.Second

// startLeaves runs the node's Leave goroutine.
func (p *Policy) startLeaves() {
	q := &p.leaves
	q.wake, q.done = make(chan struct{}, 1), make(chan struct{})
	q.wg.Add(1)
	go p.runLeaves()
}

// StopLeaves sends what is pending once more, stopping at a failure or
// after stopLeavesFor, and ends the goroutine.
func (p *Policy) StopLeaves() {
	if q := &p.leaves; q.done != nil {
		close(q.done)
		q.wg.Wait()
	}
}

// queueLeave takes key out of user's keys, soon. Any goroutine may call it.
func (p *Policy) queueLeave(user, key string) {
	q := &p.leaves
	q.mu.Lock()
	if q.n < maxPendingLeaves {
		if q.pending == nil {
			q.pending = map[string][]string{}
		}
		q.pending[user] = append(q.pending[user], key)
		q.n++
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (p *Policy) runLeaves() {
	q := &p.leaves
	defer q.wg.Done()
	for {
		select {
		case <-q.wake:
		case <-q.done:
			p.sendLeaves(time.Now().Add(stopLeavesFor))
			return
		}
		for !p.sendLeaves(time.Time{}) {
			select {
			case <-q.done:
				return
			case <-time.After(retryLeaves):
			}
		}
	}
}

// sendLeaves sends the pending Leaves, leaveBatch users a round trip, until
// deadline when it is not zero; false when a batch failed or the deadline
// came: it and those not tried yet are pending again.
func (p *Policy) sendLeaves(deadline time.Time) bool {
	q := &p.leaves
	q.mu.Lock()
	pending := q.pending
	q.pending, q.n = nil, 0
	q.mu.Unlock()
	batch := make([]admit.UserKeys, 0, min(len(pending), leaveBatch))
	ok := true
	flush := func() {
		if ok && (deadline.IsZero() || time.Now().Before(deadline)) {
			until := time.Now().Add(userPolicyTimeout)
			if !deadline.IsZero() && deadline.Before(until) {
				until = deadline
			}
			ctx, cancel := context.WithDeadline(context.Background(), until)
			err := p.users.LeaveAll(ctx, batch)
			cancel()
			if err == nil {
				batch = batch[:0]
				return
			}
		}
		ok = false
		q.mu.Lock()
		if q.pending == nil {
			q.pending = map[string][]string{}
		}
		for _, uk := range batch {
			q.pending[uk.User] = append(q.pending[uk.User], uk.Keys...)
			q.n += len(uk.Keys)
		}
		q.mu.Unlock()
		batch = batch[:0]
	}
	for user, keys := range pending {
		batch = append(batch, admit.UserKeys{User: user, Keys: keys})
		if len(batch) == leaveBatch {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return ok
}
