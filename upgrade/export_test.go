package upgrade

import (
	"fmt"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
)

// Test hooks for upgrade_test, which drives a whole node (server imports this package, so
// its tests cannot be internal ones).

// The round kinds a test runs.
const (
	StepQuiesce = stepQuiesce
	StepResume  = stepResume
)

// Round runs one round of kind on every loop and returns the busy connections (quiesce).
func (u *Upgrader) Round(kind int) int { return u.round(kind) }

// SetH2Until sets how long a quiesce waits for an HTTP/2 connection to come quiet, as HandOff
// would.
func (u *Upgrader) SetH2Until(t time.Time) { u.h2Until = t }

// Detached are the connections the rounds so far detached, every loop's. Read it between
// rounds.
func (u *Upgrader) Detached() []engine.Handle {
	var hs []engine.Handle
	for _, ls := range u.loops {
		hs = append(hs, ls.up.detached...)
	}
	return hs
}

// JoinTopics gives the stream whose conn key is key n more topics (t0, t1, …), on its loop,
// past the bound server-side subscribes keep: a stream whose record is too large to move.
func (u *Upgrader) JoinTopics(key string, n int) bool {
	k, _, ok := edge.ParseKeyText([]byte(key))
	if !ok {
		return false
	}
	sub, ok := u.LookupKey(k)
	if !ok {
		return false
	}
	done := make(chan bool)
	u.Eng.Submit(sub.Loop(), engine.Task{Op: edge.OpRun, V: func(l *engine.Loop) {
		ls := u.loops[l.Index()]
		s, _ := ls.SubscriberOf(sub)
		if s == nil {
			done <- false
			return
		}
		for i := range n {
			ls.Join(sub, s, conntable.Topics, fmt.Appendf(nil, "t%d", i))
		}
		done <- true
	}})
	return <-done
}
