package upgrade

import "github.com/pushwire/pushwire/engine"

// While a handoff quiesces its loop (handoff.go), a request connection
// starts no new request: one that just had its answers written (a routed
// publish, a pipelined run, an auth callback) stays in edge.ModeRequest, its
// unread requests carried by the engine, so the next quiesce round detaches
// it and they move to the new process in its record. Otherwise a publisher
// that keeps a request in flight — pipelining, or waiting on a slow peer —
// is busy at every round and the handoff fails. A connection held back is
// read again at the first tick after a handoff that failed.

// Hold reports whether h must not start a request now, and
// remembers it when so.
func (ls *Loop) Hold(h engine.Handle) bool {
	if !ls.u.Frozen(ls.Index) {
		return false
	}
	ls.holding = append(ls.holding, h)
	return true
}

// ResumeHeld reads again the connections held back by a handoff that
// failed (the loop is no longer frozen). Detached ones were resumed by their
// reattach, closed ones are gone: Resume ignores both.
func (ls *Loop) ResumeHeld(l *engine.Loop) {
	if len(ls.holding) == 0 {
		return
	}
	for _, h := range ls.holding {
		l.Resume(h)
	}
	clear(ls.holding)
	ls.holding = ls.holding[:0]
}
