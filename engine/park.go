package engine

// Parking: Detach leaves a conn in the loop's epoll set instead of removing it, because a
// handoff detaches every connection at once and an epoll_ctl each was the largest part of
// its quiesce (15,000 conns: ~15 ms unloaded, ~100 ms on a loaded 2-core machine). Most
// conns see no event during a handoff (an idle subscriber sends nothing); the few that do
// (a publisher's next request, a peer's FIN) are taken out at their first event (unpark),
// without a read or a write: the epoll set is level-triggered, so leaving them in would
// wake the loop again and again. A parked conn the new process took over stays in this
// process's epoll set until it exits, which costs only that teardown, after the handoff.

// unpark takes detached conn c out of the epoll set; Reattach puts it back.
func (l *Loop) unpark(c *slot) {
	// An error leaves nothing to undo: the conn is out of the set either way (ENOENT) or the
	// set is going (EBADF at shutdown).
	l.p.Del(int(c.FD))
	c.Flags &^= flagParked | flagRegIn | flagRegHup | flagRegOut
}
