package userpolicy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/links"
)

// Kicks another node refused or did not answer (admission.go kickKeys). A
// node that hands its streams over to a new process (SIGUSR2) refuses them
// until the new process serves (mesh changeLocal), and its query links end at the
// hand-off; a kick dropped there would leave the oldest stream live and
// uncounted (the admission took its key out of pw:uc:<user>). So the kicker
// asks again, with a growing wait, until the node answers — the old process
// if the upgrade failed, else the new one, which holds the same conn keys —
// or its heartbeat is gone (its streams with it), for at most kickRetryFor:
// the default --upgrade-timeout, within which an upgrade ends either way.
// The retries run off the router, a goroutine each, at most maxKickRetries
// at once (they exist only while a peer upgrades or is unreachable); past
// that a kick is dropped and logged, as one was before.

const (
	kickRetryFor   = 30 * time.Second
	kickRetryFirst = 20 * time.Millisecond
	kickRetryMost  = 500 * time.Millisecond
	maxKickRetries = 4096
)

// kickRetries are the kicks being asked again.
type kickRetries struct {
	n        atomic.Int32
	stop     chan struct{} // closed by Close: the retries end
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// kickRemote asks node to kick the stream key names; false when it should
// be asked again (a refusal, no answer). A node whose heartbeat is gone
// holds nothing, and a closed node asks no more.
func (p *Policy) kickRemote(node, key string) (done bool) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	a, err := p.c.Ask(ctx, node, &links.Query{Op: links.QueryKick, Conn: true, Name: key})
	cancel()
	switch {
	case err == nil && a.Err == "":
		return true
	case errors.Is(err, cluster.ErrUnknownNode), errors.Is(err, cluster.ErrClosed):
		return true
	}
	if p.Debug {
		p.Log.Debug("per-user policy: oldest stream not kicked yet; asking again", "node", node, "err", err, "answer", a.Err)
	}
	return false
}

// retryKick asks node again, off the caller's goroutine, to kick key.
func (p *Policy) retryKick(node, key string) {
	r := &p.kicks
	if r.n.Add(1) > maxKickRetries {
		r.n.Add(-1)
		p.Log.Warn("per-user policy: too many kicks being retried; oldest stream not kicked", "node", node)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.n.Add(-1)
		until := time.Now().Add(kickRetryFor)
		wait := kickRetryFirst
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
			if p.kickRemote(node, key) {
				return
			}
			if time.Now().After(until) {
				p.Log.Warn("per-user policy: oldest stream not kicked: its node did not take the kick", "node", node, "for", kickRetryFor)
				return
			}
			wait = min(2*wait, kickRetryMost)
			t.Reset(wait)
		}
	}()
}

// StopKicks ends the retries (mesh clusterNode.Close).
func (p *Policy) StopKicks() {
	r := &p.kicks
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
}
