package route

import (
	"context"
	"sync"
	"time"
)

// Deadline hands out contexts that end D after about now, one per
// deadlineStep: the routing jobs that start together share one timer. A
// context timer per job and another per directory lookup were ~10% of a
// cross-node publish's CPU (pushbench cluster profile, 2026-11-21).
type Deadline struct {
	D      time.Duration
	mu     sync.Mutex
	made   time.Time
	ctx    context.Context
	cancel context.CancelFunc // ends by its deadline; kept only for vet
}

const deadlineStep = 10 * time.Millisecond

// At returns a context that ends D after a moment at most deadlineStep
// before now.
func (s *Deadline) At(now time.Time) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || now.Sub(s.made) >= deadlineStep {
		s.ctx, s.cancel = context.WithDeadline(context.Background(), now.Add(s.D))
		s.made = now
	}
	return s.ctx
}
