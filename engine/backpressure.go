package engine

import "golang.org/x/sys/unix"

// Read back-pressure (as in nginx and nats-server): a client that pipelines requests faster
// than it reads the answers makes its own backlog. While a conn's pending output is over the
// high-water mark (WriteBufferLimit/2) the loop stops reading it: EPOLLIN leaves the interest
// set (only EPOLLRDHUP stays, and EPOLLERR/EPOLLHUP are always reported, so a peer that goes
// away is still noticed) and OnData is not called for it. Once a flush brings the output under
// the low-water mark (WriteBufferLimit/4), reading is re-armed and, if the conn carries
// unconsumed inbound bytes, OnData runs again with them at once, so requests that already
// arrived are served even when no new byte comes.
//
// Writes a conn's own OnData makes to it are answers to what its peer sent, so they are held
// to ownWriteFactor × WriteBufferLimit rather than to WriteBufferLimit; every other write
// (pushes from OnTask, OnTick, or another conn's OnData) is cut at WriteBufferLimit as before.
// A handler that serves pipelined requests keeps the backlog near the high-water mark by
// checking Loop.Congested between requests.
//
// A burst on a conn that is keeping up is held to the same ownWriteFactor × WriteBufferLimit:
// when a loop iteration first writes to a conn whose output had all gone to the kernel
// (flagBurst, cleared at the flush), everything that iteration queues for it may reach that
// bound. One HTTP/2 connection carries many subscribers, so a broadcast puts one frame per
// stream on it in one iteration: 200 streams × 1 KiB is over a 64 KiB limit although the
// client reads everything at once, and was cut as slow. WriteBufferLimit still bounds what a
// conn carries from one iteration to the next: a conn that did not take a burst is cut at its
// next write while its backlog is over the limit. What a reader that stops can pin is the
// largest burst an iteration gives it, as for a pipelining client's answers.

// ownWriteFactor bounds what OnData may queue on its own conn, as a multiple of
// WriteBufferLimit: the answers to one read (ReadBufferBytes of requests) by a handler that
// does not check Congested.
const ownWriteFactor = 16

// resumeReq is a conn whose carry is to be presented to OnData again (Loop.Resume, or the end
// of a read pause).
type resumeReq struct {
	slot int32
	gen  uint32
}

// Congested reports whether reading h is paused, or about to be, because its pending output
// is over the high-water mark (WriteBufferLimit/2); false for a stale handle. An OnData that
// serves pipelined requests should stop at a request boundary once it turns true and return
// what it consumed: the engine carries the rest and calls OnData with it again as soon as the
// output has drained under WriteBufferLimit/4.
func (l *Loop) Congested(h Handle) bool {
	c, _ := l.conn(h)
	return c != nil && (c.Flags&flagPaused != 0 || int(c.Pending) > l.highWater)
}

// Resume asks the loop to call OnData(h, carry) again with h's carried inbound bytes (what
// earlier OnData calls left unconsumed), even though no new bytes arrived: a handler that
// left requests unconsumed while an asynchronous answer was outstanding calls it once the
// answer is written. The call happens at the end of this loop iteration, before its flush, or
// in the next iteration when Resume is called from such a resumed OnData or from OnClose
// during a flush. Nothing happens if h carries no bytes by then, if OnData ran for h meanwhile
// (it was given the carry), if reading h has stopped (CloseAfterFlush, the peer's FIN), or if
// h is stale; while reading h is paused by back-pressure the call waits for the output to
// drain, when the engine presents the carry anyway. Calls before the call happens coalesce.
func (l *Loop) Resume(h Handle) {
	c, i := l.conn(h)
	if c == nil {
		return
	}
	l.queueResume(c, i)
}

func (l *Loop) queueResume(c *slot, i int32) {
	if c.Flags&flagResume == 0 {
		c.Flags |= flagResume
		l.resumes = append(l.resumes, resumeReq{slot: i, gen: c.Gen})
	}
}

// runResumes presents the carry of every conn queued by Resume or by the end of a read pause
// to OnData. Resumes queued meanwhile wait for the next iteration (run does not block while
// any are queued).
func (l *Loop) runResumes() {
	rs := l.resumes
	l.resumes = l.spareResumes[:0]
	for _, r := range rs {
		c := l.slab.At(r.slot)
		if c.Gen != r.gen || c.Flags&(flagOpen|flagResume) != flagOpen|flagResume {
			continue // closed, or OnData already ran for it
		}
		c.Flags &^= flagResume
		if c.In == 0 || c.Flags&(flagReadClosed|flagLinger|flagDetached) != 0 || l.paused(c, r.slot) {
			continue // nothing to present, reading over, or the end of the pause will present it
		}
		l.feedCarry(c, r.slot)
	}
	clear(rs)
	l.spareResumes = rs[:0]
}

// paused reports whether reading slot i is paused by back-pressure. A conn that went over the
// high-water mark since its last flush (written to by other conns or tasks in this iteration)
// is paused here, and marked dirty so that its flush updates the interest set.
func (l *Loop) paused(c *slot, i int32) bool {
	if c.Flags&flagPaused != 0 {
		return true
	}
	if int(c.Pending) > l.highWater {
		c.Flags |= flagPaused
		l.markDirty(c, i)
		return true
	}
	return false
}

// readEvent handles EPOLLIN/EPOLLRDHUP on slot i. A carry waiting for a resume goes to OnData
// before anything more is read, so that a handler that stopped because the conn was Congested
// gets its unserved requests first and the carry does not grow by a read at each pause.
// While reading is paused, input waits in the socket and the peer's FIN is remembered and no
// longer watched (level-triggered epoll would report it over and over); it is read once
// reading resumes. readEvent reports whether the conn is still open.
func (l *Loop) readEvent(c *slot, i int32, events uint32) bool {
	gen := c.Gen
	if c.Flags&flagResume != 0 && c.In != 0 && !l.paused(c, i) {
		l.feedCarry(c, i)
		if c = l.slab.At(i); c.Gen != gen || c.Flags&flagOpen == 0 {
			return false
		}
		if c.Flags&flagReadClosed != 0 {
			return true
		}
	}
	if l.paused(c, i) {
		if events&unix.EPOLLRDHUP != 0 && c.Flags&flagPeerHup == 0 {
			c.Flags |= flagPeerHup
			l.markDirty(c, i)
		}
		return true
	}
	l.read(i)
	c = l.slab.At(i)
	return c.Gen == gen && c.Flags&flagOpen != 0
}

// backPressure is run by the flush after writing slot i: it pauses reading over the
// high-water mark and ends the pause under the low-water mark, queueing the carry for OnData.
func (l *Loop) backPressure(c *slot, i int32) {
	switch {
	case c.Flags&flagPaused == 0:
		if int(c.Pending) > l.highWater {
			c.Flags |= flagPaused
		}
	case int(c.Pending) < l.lowWater:
		c.Flags &^= flagPaused | flagPeerHup
		if c.In != 0 && c.Flags&flagReadClosed == 0 {
			l.queueResume(c, i)
		}
	}
}

// Answer runs fn with writes to h admitted as they are from h's own OnData
// (up to ownWriteFactor × WriteBufferLimit): for an answer to h's own
// request that is made away from OnData — after a callback, a lookup on
// another goroutine — and may be as large as one made inline (a stream's
// replay, a profile). Writes to other conns inside fn keep the plain limit.
// Call it on h's loop.
func (l *Loop) Answer(h Handle, fn func()) {
	c, i := l.conn(h)
	if c == nil {
		fn()
		return
	}
	outer := l.feeding
	l.feeding = i
	defer func() { l.feeding = outer }()
	fn()
}
