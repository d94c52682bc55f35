package mesh

import (
	"context"
	"sync"
	"time"
)

// The per-user policy's Leaves in Redis (streamLeft, userpolicy.go) go
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

// startLeaves runs the node's Leave goroutine.
func (cn *clusterNode) startLeaves() {
	q := &cn.leaves
	q.wake, q.done = make(chan struct{}, 1), make(chan struct{})
	q.wg.Add(1)
	go cn.runLeaves()
}

// stopLeaves sends what is pending once more, stopping at a failure, and
// ends the goroutine.
func (cn *clusterNode) stopLeaves() {
	if q := &cn.leaves; q.done != nil {
		close(q.done)
		q.wg.Wait()
	}
}

// queueLeave takes key out of user's keys, soon. Any goroutine may call it.
func (cn *clusterNode) queueLeave(user, key string) {
	q := &cn.leaves
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

func (cn *clusterNode) runLeaves() {
	q := &cn.leaves
	defer q.wg.Done()
	for {
		select {
		case <-q.wake:
		case <-q.done:
			cn.sendLeaves()
			return
		}
		for !cn.sendLeaves() {
			select {
			case <-q.done:
				return
			case <-time.After(retryLeaves):
			}
		}
	}
}

// sendLeaves sends the pending Leaves, one round trip per user; false when
// one failed: it and those not tried yet are pending again.
func (cn *clusterNode) sendLeaves() bool {
	q := &cn.leaves
	q.mu.Lock()
	batch := q.pending
	q.pending, q.n = nil, 0
	q.mu.Unlock()
	ok := true
	for user, keys := range batch {
		if ok {
			ctx, cancel := context.WithTimeout(context.Background(), userPolicyTimeout)
			err := cn.users.Leave(ctx, user, keys...)
			cancel()
			if ok = err == nil; ok {
				continue
			}
		}
		q.mu.Lock()
		if q.pending == nil {
			q.pending = map[string][]string{}
		}
		q.pending[user] = append(q.pending[user], keys...)
		q.n += len(keys)
		q.mu.Unlock()
	}
	return ok
}
