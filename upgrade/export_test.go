package upgrade

import (
	"time"

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
