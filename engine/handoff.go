package engine

import (
	"errors"
	"fmt"
	"net"

	"github.com/pushwire/pushwire/engine/listen"
	"github.com/pushwire/pushwire/engine/tlsconn"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// Handing connections to another process (a zero-downtime upgrade, package handoff): the old
// process detaches each connection from its loop — the loop stops polling it but keeps its
// slot, its socket and its pending output, and never touches the socket again (no read, no
// write, no shutdown) — and passes a duplicate of the descriptor with its state; the new
// process adopts the descriptor into the same loop, slot and generation, so the handle, and
// the conn key built on it, stay valid. Until the new process says it took everything the
// old one can Reattach and carry on as if nothing happened. Listeners likewise.

const (
	// flagDetached: the loop no longer polls or writes the conn (Detach); its slot, socket and
	// pending output stay until Reattach or close.
	flagDetached = flagBurst << 1
	// flagExported: Export handed the conn's output away; a write after it would be lost.
	flagExported = flagBurst << 2
	// flagParked: detached and still in the loop's epoll set (park.go). A distinct high bit,
	// clear of the bits right after flagBurst that other per-conn states take.
	flagParked = flagBurst << 8
)

var (
	// ErrNotMovable is Detach's answer for a conn whose transport state cannot move to
	// another process (a TLS handshake), or that is closing.
	ErrNotMovable = errors.New("engine: connection cannot be handed over")
	// ErrSlotTaken is AdoptConn's answer for a handle whose slot already holds a conn, or
	// that names no loop of this engine.
	ErrSlotTaken = errors.New("engine: handle's slot is not free")
)

// Detach stops serving h: its input stays in the kernel, output queued for it is kept and not
// written, and the socket is neither read, written nor shut down until Reattach. It stays in
// the epoll set until an event for it comes (park.go). The descriptor is returned for passing
// to another process. A conn closing or past
// WriteBufferLimit, or a TLS conn in its handshake or after its close_notify, cannot be
// detached (ErrNotMovable).
func (l *Loop) Detach(h Handle) (fd int, err error) {
	c, _ := l.conn(h)
	switch {
	case c == nil:
		return -1, ErrSlotTaken
	case c.Flags&flagDetached != 0:
		return int(c.FD), nil
	case c.Flags&(flagCloseAfter|flagLinger|flagPeerEOF|flagSlow|flagReadClosed) != 0:
		return -1, ErrNotMovable
	case c.TLS != 0 && (!l.tls.At(c.TLS).Established() || l.tls.At(c.TLS).Closed):
		return -1, ErrNotMovable
	}
	c.Flags |= flagDetached | flagParked
	return int(c.FD), nil
}

// Detached reports whether h is detached (Detach, and no Reattach since).
func (l *Loop) Detached(h Handle) bool {
	c, _ := l.conn(h)
	return c != nil && c.Flags&flagDetached != 0
}

// Export appends h's queued output and carried input (bytes read and not yet consumed) to
// dst and carry, and for a TLS conn its transport state to state (AdoptTLSConn's): first
// the plaintext queued for it is sealed, so that its pending output is records on the wire
// format, and the record layer's sequence numbers count them. From here a write to h is lost
// if the conn moves: LateWrites counts them. An error (a TLS conn whose state cannot be
// taken) leaves h as it was, detached.
func (l *Loop) Export(dst, carry, state []byte, h Handle) (pending, carried, tlsState []byte, err error) {
	c, _ := l.conn(h)
	if c == nil {
		return dst, carry, state, ErrSlotTaken
	}
	if c.TLS != 0 {
		return l.exportTLS(c, dst, carry, state)
	}
	c.Flags |= flagExported
	if c.Out != 0 {
		q := l.out.At(c.Out)
		for k := range q.Segs() {
			dst = append(dst, q.Seg(k)...)
		}
	}
	if c.In != 0 {
		carry = append(carry, l.in.At(c.In).B...)
	}
	return dst, carry, state, nil
}

// exportTLS is Export for a TLS conn: its state is tlsconn's (Conn.AppendState).
func (l *Loop) exportTLS(c *slot, dst, carry, state []byte) ([]byte, []byte, []byte, error) {
	tc := l.tls.At(c.TLS)
	if err := l.sealQueued(c, tc); err != nil {
		return dst, carry, state, err
	}
	plain := int32(0)
	if c.In != 0 {
		plain = l.in.At(c.In).Plain
	}
	st, err := tc.AppendState(state, plain)
	if err != nil {
		return dst, carry, state, err
	}
	c.Flags |= flagExported
	dst = tc.AppendPending(dst)
	if c.In != 0 {
		carry = append(carry, l.in.At(c.In).B...)
	}
	return dst, carry, st, nil
}

// Slots is how many connection slots loop l has used: every live handle's slot is below it.
// An upgrade sends it (handoff.LoopMarks) so that the new process adopts no slot past it.
// Only l's goroutine may call it while l runs.
func (l *Loop) Slots() int { return int(l.slab.Len()) }

// LateWrites returns how many flushes found output queued on a conn after Export took its
// output: non-zero means something would be lost if the conns moved now.
func (l *Loop) LateWrites() int64 { return l.lateWrites }

// Reattach polls h again after a Detach: its pending output (and anything written meanwhile)
// is flushed and reading resumes.
func (l *Loop) Reattach(h Handle) error {
	c, i := l.conn(h)
	if c == nil || c.Flags&flagDetached == 0 {
		return nil
	}
	if c.Flags&flagParked == 0 { // unparked: out of the epoll set
		if err := l.p.Add(int(c.FD), 0, i, int32(c.Gen)); err != nil {
			l.closeConn(i, err)
			return err
		}
	}
	c.Flags &^= flagDetached | flagExported | flagParked
	l.markDirty(c, i)
	if c.In != 0 {
		l.queueResume(c, i) // the carry may hold a whole request
	}
	return nil
}

// DetachListeners stops accepting on the loop's listeners (new connections wait in the
// kernel's accept queue) and calls fn with each socket, its tag and whether it is TLS.
func (l *Loop) DetachListeners(fn func(fd, tag int, tls bool)) { l.lst.Detach(fn) }

// ReattachListeners accepts again on the listeners DetachListeners took.
func (l *Loop) ReattachListeners() { l.lst.Reattach() }

// AdoptListener takes a listening socket handed over by another process, before Start; its
// connections reach OnOpen with the given tag. It returns the socket's address.
func (e *Engine) AdoptListener(fd, listener int) (net.Addr, error) {
	return e.adoptListener(fd, listener, nil)
}

// AdoptTLSListener is AdoptListener for a TLS listener (see ListenTLS).
func (e *Engine) AdoptTLSListener(fd, listener int, srv *tlslayer.Server) (net.Addr, error) {
	if srv == nil {
		return nil, errors.New("engine: AdoptTLSListener with a nil server")
	}
	return e.adoptListener(fd, listener, srv)
}

func (e *Engine) adoptListener(fd, listener int, srv *tlslayer.Server) (net.Addr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != stateNew {
		return nil, ErrStarted
	}
	bound, err := listen.Adopt(fd)
	if err != nil {
		return nil, err
	}
	l := e.loops[e.listeners.Len()%len(e.loops)]
	if err := l.lst.Attach(fd, listener, srv); err != nil {
		return nil, err
	}
	return bound, nil
}

// AdoptConn takes a connection handed over by another process, before Start, into the loop,
// slot and generation h names, so that h (and whatever was built on it) names it here too.
// Calls for different loops may run at once; calls for one loop, and Start, must not overlap.
// pending is output queued for it and not yet written (sent first, in order); carry is input
// read and not yet consumed (presented to OnData when the loops start). OnOpen is not called:
// the caller sets up its own state for h. The engine owns fd from here, even on an error.
func (e *Engine) AdoptConn(h Handle, fd int, pending, carry []byte) error {
	return e.adoptConn(h, fd, nil, nil, pending, carry)
}

// AdoptTLSConn is AdoptConn for a TLS conn: state is what Export gave for it, srv the
// Server of the listener it came from, and pending is sealed records (written as they are).
// A state that does not describe an established connection of srv is an error.
func (e *Engine) AdoptTLSConn(h Handle, fd int, srv *tlslayer.Server, state, pending, carry []byte) error {
	if srv == nil || !tlsconn.StateFits(state, len(carry)) {
		unix.Close(fd)
		return fmt.Errorf("%w: no TLS server, or a state that does not fit the carry", tlslayer.ErrState)
	}
	return e.adoptConn(h, fd, srv, state, pending, carry)
}

func (e *Engine) adoptConn(h Handle, fd int, srv *tlslayer.Server, state, pending, carry []byte) error {
	// Only the check is under e.mu: adopting touches nothing but loop h.Loop(), so conns of
	// different loops may be adopted at once (one goroutine per loop, none during Start).
	e.mu.Lock()
	started := e.state != stateNew
	e.mu.Unlock()
	if started {
		unix.Close(fd)
		return ErrStarted
	}
	if h.Loop() >= len(e.loops) || h.gen() == 0 {
		unix.Close(fd)
		return ErrSlotTaken
	}
	if len(pending) > maxPendingBytes || len(carry) > e.cfg.MaxInboundBytes {
		unix.Close(fd)
		return fmt.Errorf("engine: adopted conn with %d pending and %d carried bytes: over the limits", len(pending), len(carry))
	}
	l := e.loops[h.Loop()]
	i := int32(h.Slot())
	if !l.slab.AllocAt(i, h.gen(), fd) {
		unix.Close(fd)
		return ErrSlotTaken
	}
	c := l.slab.At(i)
	plain := int32(0)
	if srv != nil {
		c.TLS = l.tls.Get(srv)
		var err error
		if plain, err = l.tls.At(c.TLS).SetState(state, pending, &l.out); err != nil {
			l.freeTLS(c)
			l.slab.Release(i)
			unix.Close(fd)
			return err
		}
	}
	if err := l.p.Add(fd, connEvents, i, int32(c.Gen)); err != nil {
		l.freeTLS(c)
		l.slab.Release(i)
		unix.Close(fd)
		return err
	}
	c.Flags |= flagRegIn
	l.stats.open.Add(1)
	switch {
	case len(pending) == 0:
	case srv != nil: // queued by SetState
		c.Pending = int32(len(pending))
		l.markDirty(c, i)
	default:
		c.Out = l.out.Get()
		l.out.AppendCopy(l.out.At(c.Out), pending)
		c.Pending = int32(len(pending))
		l.markDirty(c, i)
	}
	if len(carry) > 0 {
		c.In = l.in.Get()
		in := l.in.At(c.In)
		in.B = append(in.B, carry...)
		in.Plain = plain
		l.queueResume(c, i)
	}
	return nil
}

// detachedFlush is the flush of a detached conn: nothing is written, but what it queued by
// reference is copied (the referenced bytes are reused after the flush), and a write after
// Export is counted.
func (l *Loop) detachedFlush(c *slot) {
	if c.Out != 0 {
		l.out.OwnRefs(l.out.At(c.Out))
	}
	if c.Flags&flagExported != 0 {
		l.lateWrites++
	}
}
