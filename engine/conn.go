package engine

import (
	"io"
	"os"

	"github.com/pushwire/pushwire/engine/connbuf"
	"github.com/pushwire/pushwire/engine/sys"
	"golang.org/x/sys/unix"
)

// Per-connection work of a loop: events, reads, writes, flush and close.

// Valid reports whether h is open on this loop (its generation matches).
func (l *Loop) Valid(h Handle) bool {
	if h.Loop() != l.idx {
		return false
	}
	c, _ := l.slab.Lookup(int32(h.Slot()), h.gen())
	return c != nil
}

// conn returns the live slot h names on this loop, or nil.
func (l *Loop) conn(h Handle) (*slot, int32) {
	if h.Loop() != l.idx {
		return nil, -1
	}
	return l.slab.Lookup(int32(h.Slot()), h.gen())
}

// Write copies b (into the loop's write arena, or the conn's pooled outbound queue when it is
// large or the conn waits for EPOLLOUT); it is written at the end of this loop iteration, and
// b may be reused as soon as Write returns. Past WriteBufferLimit pending bytes the conn is closed with ErrSlowConsumer
// (writes by h's own OnData may go further: see Congested). Writes to a stale handle are
// ignored.
func (l *Loop) Write(h Handle, b []byte) {
	c, i := l.conn(h)
	if c == nil || len(b) == 0 || !l.admit(c, i, len(b)) {
		return
	}
	if c.Out == 0 {
		c.Out = l.out.Get()
	}
	if c.Flags&flagBlocked != 0 || len(b) > connbuf.ArenaMaxWrite {
		l.out.AppendCopy(l.out.At(c.Out), b) // cannot go out this iteration, or large: own it now
	} else {
		l.out.AppendArena(l.out.At(c.Out), b)
	}
	c.Pending += int32(len(b))
	l.markDirty(c, i)
}

// WriteRef queues b by reference: the caller keeps b unchanged until the end of this loop
// iteration's flush (see Defer). Whatever the kernel does not take in that flush is copied
// into the conn's own outbound queue (at once if the conn is already waiting for EPOLLOUT).
// b must not be the in given to OnData: the loop reuses that buffer (use Write).
// Writes to a stale handle are ignored.
func (l *Loop) WriteRef(h Handle, b []byte) {
	c, i := l.conn(h)
	if c == nil || len(b) == 0 || !l.admit(c, i, len(b)) {
		return
	}
	if c.Out == 0 {
		c.Out = l.out.Get()
	}
	if c.Flags&flagBlocked != 0 {
		l.out.AppendCopy(l.out.At(c.Out), b) // cannot go out this iteration: copy now
	} else {
		l.out.At(c.Out).AppendRef(b)
	}
	c.Pending += int32(len(b))
	l.markDirty(c, i)
}

// admit checks n more pending bytes against WriteBufferLimit (ownWriteFactor times that for
// writes by the conn's own OnData, and for a burst on a conn that is keeping up: see
// burstLimit). Over it, the conn's output is dropped and it is marked to be closed with
// ErrSlowConsumer at this iteration's flush.
func (l *Loop) admit(c *slot, i int32, n int) bool {
	if c.Flags&(flagSlow|flagLinger) != 0 {
		return false
	}
	if c.Flags&flagDirty == 0 && c.Pending == 0 {
		c.Flags |= flagBurst // the first write of this iteration, and nothing left from earlier ones
	}
	limit := l.cfg.WriteBufferLimit
	if i == l.feeding || c.Flags&flagBurst != 0 {
		limit = l.ownWriteLimit // answers to the conn's own requests, or a burst (backpressure.go)
	}
	if int(c.Pending)+n <= limit {
		return true
	}
	c.Flags |= flagSlow
	if c.Out != 0 {
		l.out.Put(c.Out)
		c.Out = 0
	}
	c.Pending = 0
	l.markDirty(c, i)
	return false
}

// Pending returns the bytes queued for h and not yet written (0 for a stale handle).
func (l *Loop) Pending(h Handle) int {
	if c, _ := l.conn(h); c != nil {
		return int(c.Pending)
	}
	return 0
}

// Close closes h now, dropping its pending output; OnClose(err) runs before Close returns.
// A stale handle is ignored.
func (l *Loop) Close(h Handle, err error) {
	if _, i := l.conn(h); i >= 0 {
		l.closeConn(i, err)
	}
}

// CloseAfterFlush stops reading from h and closes it once its pending output is written, or
// earlier on a write error or WriteBufferLimit. A clean close reports a nil error to OnClose.
//
// Once the output is out, the engine shuts down the write side (FIN) and reads and discards
// what the peer still sends, until its FIN or for at most lingerTime, before closing: closing a
// socket with unread input makes the kernel send RST, which can destroy the response in the
// peer's receive buffer (the reason for nginx's lingering close). Writes made before the
// output is out are still sent; once the write side is shut they are ignored. h stays Valid
// until OnClose.
func (l *Loop) CloseAfterFlush(h Handle) {
	c, i := l.conn(h)
	if c == nil || c.Flags&(flagCloseAfter|flagLinger) != 0 {
		return
	}
	c.Flags |= flagReadClosed | flagCloseAfter
	l.dropCarry(c)
	l.markDirty(c, i)
}

func (l *Loop) markDirty(c *slot, i int32) {
	if c.Flags&flagDirty == 0 {
		c.Flags |= flagDirty
		l.dirty = append(l.dirty, i)
	}
}

func (l *Loop) dropCarry(c *slot) {
	if c.In != 0 {
		l.in.Put(c.In)
		c.In = 0
	}
}

// connEvent handles epoll events for slot i; events of a slot reused since (gen differs)
// are dropped. Errors and hang-ups are handled before reading and writing.
func (l *Loop) connEvent(i int32, gen uint32, events uint32) {
	if i >= l.slab.Len() {
		return
	}
	c := l.slab.At(i)
	if c.Gen != gen || c.Flags&flagOpen == 0 {
		return
	}
	if c.Flags&flagParked != 0 {
		l.unpark(c) // park.go: a detached conn is not served
		return
	}
	if c.Flags&flagLinger != 0 {
		l.lingerEvent(c, i, events)
		return
	}
	if events&unix.EPOLLERR != 0 {
		l.closeConn(i, sys.SockError(int(c.FD)))
		return
	}
	if events&unix.EPOLLHUP != 0 {
		l.closeConn(i, io.EOF) // both directions are shut: nothing can be written
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 && c.Flags&flagReadClosed == 0 {
		if !l.readEvent(c, i, events) {
			return
		}
		c = l.slab.At(i)
	}
	if events&unix.EPOLLOUT != 0 {
		c.Flags &^= flagBlocked
		l.markDirty(c, i)
	}
}

// read reads once into the loop's buffer and hands the conn's unconsumed bytes to OnData.
// Level-triggered epoll reports the conn again if more is waiting.
func (l *Loop) read(i int32) {
	c := l.slab.At(i)
	n, err := sys.Read(int(c.FD), l.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.closeConn(i, os.NewSyscallError("read", err))
		return
	case n == 0:
		l.peerEOF(c, i)
		return
	}
	data := l.rbuf[:n]
	if c.In != 0 {
		in := l.in.At(c.In)
		in.B = append(in.B, data...)
		data = in.B
	}
	if c.TLS != 0 {
		l.readTLS(c, i, data)
		return
	}
	l.feed(c, i, data)
}

// feed hands data, the conn's carry followed by what was just read (if anything), to OnData
// and carries what it leaves unconsumed.
func (l *Loop) feed(c *slot, i int32, data []byte) {
	gen := c.Gen
	c.Flags &^= flagResume // this call presents the carry
	h := makeHandle(l.idx, i, gen)
	outer := l.feeding
	l.feeding = i
	consumed := l.h.OnData(l, h, data)
	l.feeding = outer
	c = l.slab.At(i)
	if c.Gen != gen || c.Flags&flagOpen == 0 || c.Flags&flagReadClosed != 0 {
		return // closed, or CloseAfterFlush, during OnData
	}
	consumed = min(max(consumed, 0), len(data))
	rest := data[consumed:]
	switch {
	case len(rest) == 0:
		l.dropCarry(c)
	case len(rest) > l.cfg.MaxInboundBytes:
		l.stats.inboundOverflows.Add(1)
		l.closeConn(i, ErrInboundLimit)
	case c.In == 0:
		c.In = l.in.Get()
		in := l.in.At(c.In)
		in.B = append(in.B, rest...)
	default:
		in := l.in.At(c.In)
		in.B = in.B[:copy(in.B, rest)]
	}
	if len(rest) > 0 && c.Flags&flagOpen != 0 {
		// OnData may have stopped because h is Congested: pause now, so that the carry is
		// presented again once the output drains even if this iteration's flush writes it all.
		l.paused(c, i)
	}
}

// peerEOF handles a FIN: nothing more is delivered; pending output is flushed, then the conn
// closes with io.EOF.
func (l *Loop) peerEOF(c *slot, i int32) {
	l.dropCarry(c)
	if c.Pending == 0 {
		l.closeConn(i, io.EOF)
		return
	}
	c.Flags |= flagReadClosed | flagPeerEOF
	l.markDirty(c, i) // the flush drops read interest and closes once output is out
}

// closeConn closes slot i with err and runs OnClose.
func (l *Loop) closeConn(i int32, err error) {
	c := l.slab.At(i)
	if c.Flags&flagOpen == 0 {
		return
	}
	h := makeHandle(l.idx, i, c.Gen)
	l.freeConn(i)
	l.stats.open.Add(-1)
	l.stats.closed.Add(1)
	l.h.OnClose(l, h, err)
}

// freeConn closes the socket (which also removes it from epoll), returns its buffers and
// frees the slot.
func (l *Loop) freeConn(i int32) {
	c := l.slab.At(i)
	if c.Flags&flagParked != 0 {
		l.unpark(c) // park.go: another process may hold the socket open
	}
	unix.Close(int(c.FD))
	l.dropCarry(c)
	l.freeTLS(c)
	if c.Out != 0 {
		l.out.Put(c.Out)
		c.Out = 0
	}
	l.slab.Release(i)
}

// flush writes every dirty conn once (writev, at most connbuf.MaxIovecs segments per call).
func (l *Loop) flush() {
	for k := 0; k < len(l.dirty); k++ {
		i := l.dirty[k]
		c := l.slab.At(i)
		if c.Flags&flagDirty == 0 {
			continue // closed (and maybe reused) since it was marked
		}
		c.Flags &^= flagDirty | flagBurst
		l.flushConn(c, i)
	}
	l.dirty = l.dirty[:0]
	l.out.Rewind() // every queue still pending owns its bytes now (OwnRefs)
}

func (l *Loop) flushConn(c *slot, i int32) {
	if c.Flags&flagDetached != 0 {
		l.detachedFlush(c) // handoff.go: never written while detached
		return
	}
	if c.Flags&flagSlow != 0 {
		l.stats.slowConsumers.Add(1)
		l.closeConn(i, ErrSlowConsumer)
		return
	}
	if c.TLS != 0 {
		l.flushTLS(c, i)
		return
	}
	if c.Out != 0 {
		q := l.out.At(c.Out)
		for c.Pending > 0 && c.Flags&flagBlocked == 0 {
			n, full, err := l.out.WriteTo(int(c.FD), q)
			if err != nil {
				l.closeConn(i, err)
				return
			}
			c.Pending -= int32(n)
			if full {
				c.Flags |= flagBlocked
			}
		}
		if c.Pending == 0 {
			l.out.Put(c.Out)
			c.Out = 0
		} else {
			l.out.OwnRefs(q)
		}
	}
	l.afterFlush(c, i)
}

// afterFlush brings conn i's state in line with what its flush left pending: back-pressure,
// the close of a conn that is done, the epoll interest set.
func (l *Loop) afterFlush(c *slot, i int32) {
	l.backPressure(c, i)
	if c.Pending == 0 && c.Flags&flagPeerEOF != 0 {
		l.closeConn(i, io.EOF)
		return
	}
	if c.Pending == 0 && c.Flags&flagCloseAfter != 0 && c.Flags&flagLinger == 0 {
		l.startLinger(c, i)
		return
	}
	l.setInterest(c, i)
}

// setInterest brings the epoll interest set in line with the conn's state: read interest
// unless reading stopped (only EPOLLRDHUP while it is paused by back-pressure), EPOLLOUT only
// while the kernel buffer is full.
func (l *Loop) setInterest(c *slot, i int32) {
	if c.Flags&flagDetached != 0 {
		return // not polled: Reattach sets the interest again
	}
	const reg = flagRegIn | flagRegHup | flagRegOut
	var want uint32
	switch {
	case c.Flags&flagReadClosed != 0:
	case c.Flags&flagPaused == 0:
		want |= flagRegIn
	case c.Flags&flagPeerHup == 0:
		want |= flagRegHup // paused: watch only for the peer's FIN
	}
	if c.Flags&flagBlocked != 0 {
		want |= flagRegOut
	}
	if c.Flags&reg == want {
		return
	}
	var events uint32
	if want&flagRegIn != 0 {
		events |= connEvents
	}
	if want&flagRegHup != 0 {
		events |= unix.EPOLLRDHUP
	}
	if want&flagRegOut != 0 {
		events |= unix.EPOLLOUT
	}
	if err := l.p.Mod(int(c.FD), events, i, int32(c.Gen)); err != nil {
		l.closeConn(i, err)
		return
	}
	c.Flags = c.Flags&^reg | want
}

// wrapSyscall names the failing call in an errno.
func wrapSyscall(call string, err error) error { return os.NewSyscallError(call, err) }
