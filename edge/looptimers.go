package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// loopTimers drive what a loop does on time (timers.go): the wheel holds the
// few per-connection timers (long-poll timeouts), the sweep visits every
// slot for heartbeats and request deadlines. Only the loop touches them, in
// OnTick.
type loopTimers struct {
	wheel       *conntable.Wheel
	fireFn      func(conntable.Handle, conntable.TimerID)
	cur         *engine.Loop // the loop, while the wheel fires timers
	sweepCursor int          // the next slot the sweep visits
	AgeBudget   int          // streams this tick may still end for --max-conn-age (subscribe/lifetime.go)
}
