package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// Lingering close (CloseAfterFlush): after the last byte is written the write side is shut
// down and the input drained until the peer's FIN, so that the close does not turn into an RST
// that could destroy the response before the peer read it.

// lingerTime bounds how long a closing conn drains its peer's input.
const lingerTime = 2 * time.Second

// lingerer is a conn draining before its close.
type lingerer struct {
	slot     int32
	gen      uint32
	deadline time.Time
}

// startLinger shuts down c's write side and starts draining its input.
func (l *Loop) startLinger(c *slot, i int32) {
	if err := unix.Shutdown(int(c.FD), unix.SHUT_WR); err != nil {
		l.closeConn(i, nil) // the peer is gone already: nothing left to protect
		return
	}
	c.Flags = c.Flags&^flagReadClosed | flagLinger
	l.lingering = append(l.lingering, lingerer{slot: i, gen: c.Gen, deadline: l.now.Add(lingerTime)})
	l.setInterest(c, i)
}

// lingerEvent drains a lingering conn; its FIN, an error or a hang-up ends it.
func (l *Loop) lingerEvent(c *slot, i int32, events uint32) {
	if events&errEvents != 0 {
		l.closeConn(i, nil)
		return
	}
	n, err := unix.Read(int(c.FD), l.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n == 0 || err != nil {
		l.closeConn(i, nil)
	}
}

// expireLingerers closes the lingering conns whose time is up and forgets closed ones.
func (l *Loop) expireLingerers() {
	kept := l.lingering[:0]
	for _, g := range l.lingering {
		c := l.slab.At(g.slot)
		if c.Gen != g.gen || c.Flags&flagLinger == 0 {
			continue // closed already
		}
		if !l.now.Before(g.deadline) {
			l.closeConn(g.slot, nil)
			continue
		}
		kept = append(kept, g)
	}
	clear(l.lingering[len(kept):])
	l.lingering = kept
}
