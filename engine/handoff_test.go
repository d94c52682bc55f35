package engine

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// onLoop runs fn on loop 0 of e and waits for it.
func onLoop(e *Engine, f *funcHandler, fn func(l *Loop)) { onLoopN(e, f, 0, fn) }

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// TestDetachReattach: a detached conn is neither read nor written — bytes the client sent
// wait in the kernel, a write waits in the queue (Export shows it) — and after Reattach both
// flow, in order.
func TestDetachReattach(t *testing.T) {
	var mu sync.Mutex
	var got bytes.Buffer
	var opened lastOpened
	f := &funcHandler{open: opened.record}
	f.data = func(l *Loop, h Handle, in []byte) int {
		mu.Lock()
		got.Write(in)
		mu.Unlock()
		return len(in)
	}
	e, addr := startEngine(t, Config{Loops: 1}, f)
	c := dial(t, addr)
	defer c.Close()
	h := opened.wait(t)

	var fd int
	onLoop(e, f, func(l *Loop) {
		var err error
		if fd, err = l.Detach(h); err != nil {
			t.Errorf("Detach = %v", err)
		}
		l.Write(h, []byte("queued while detached"))
	})
	c.Write([]byte("sent while detached"))
	// The bytes are in the kernel's receive queue of the socket...
	waitFor(t, "the client's bytes in the socket", 5*time.Second, func() bool {
		n, _, err := unix.Recvfrom(fd, make([]byte, 64), unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err == nil && n == len("sent while detached")
	})
	// ...and after two more loop iterations still not read, the write still queued.
	var pending, carry []byte
	onLoop(e, f, func(l *Loop) {})
	onLoop(e, f, func(l *Loop) { pending, carry, _, _ = l.Export(nil, nil, nil, h) })
	mu.Lock()
	if got.Len() != 0 {
		t.Errorf("OnData got %q from a detached conn", got.String())
	}
	mu.Unlock()
	if string(pending) != "queued while detached" || len(carry) != 0 {
		t.Errorf("Export = %q, %q; want the queued write and no carry", pending, carry)
	}
	onLoop(e, f, func(l *Loop) {
		if err := l.Reattach(h); err != nil {
			t.Errorf("Reattach = %v", err)
		}
	})
	if s := readN(t, c, len("queued while detached")); s != "queued while detached" {
		t.Errorf("client read %q", s)
	}
	waitFor(t, "OnData after Reattach", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got.String() == "sent while detached"
	})
}

// TestDetachRefusesClosing: a conn that is closing cannot be detached.
func TestDetachRefusesClosing(t *testing.T) {
	var opened lastOpened
	f := &funcHandler{open: opened.record}
	e, addr := startEngine(t, Config{Loops: 1}, f)
	c := dial(t, addr)
	defer c.Close()
	conn := opened.wait(t)
	onLoop(e, f, func(l *Loop) {
		l.Write(conn, []byte("bye"))
		l.CloseAfterFlush(conn)
		if _, err := l.Detach(conn); !errors.Is(err, ErrNotMovable) {
			t.Errorf("Detach(closing conn) = %v; want ErrNotMovable", err)
		}
	})
}

// TestMoveToAnotherEngine hands a conn with queued output and a half-read request, and the
// listener, from one engine to a second one (as two processes would, with duplicated
// descriptors): the first closes its copies and stops; the client sees no close, gets the
// queued output from the second, whose OnData sees the same handle and the whole request;
// a new connection is accepted by the second.
func TestMoveToAnotherEngine(t *testing.T) {
	var opened lastOpened
	fa := &funcHandler{open: opened.record}
	fa.data = func(l *Loop, h Handle, in []byte) int {
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			return i + 1
		}
		return 0 // an unfinished line stays in the carry
	}
	a, addr := startEngine(t, Config{Loops: 2}, fa)
	// Open a few conns first, so the moved one sits past slot 0 of its loop.
	var others []io.Closer
	for range 4 {
		others = append(others, dial(t, addr))
	}
	defer func() {
		for _, o := range others {
			o.Close()
		}
	}()
	waitFor(t, "4 conns", 5*time.Second, func() bool { return a.Stats().Open == 4 })
	c := dial(t, addr)
	defer c.Close()
	waitFor(t, "5 conns", 5*time.Second, func() bool { return a.Stats().Open == 5 })
	c.Write([]byte("par"))
	h := opened.wait(t)
	waitFor(t, "the carry", 5*time.Second, func() bool {
		var carry []byte
		onLoopN(a, fa, h.Loop(), func(l *Loop) { _, carry, _, _ = l.Export(nil, nil, nil, h) })
		return string(carry) == "par"
	})

	var fd, lfd, ltag int
	var pending, carry []byte
	onLoopN(a, fa, h.Loop(), func(l *Loop) {
		l.Write(h, []byte("written before the move\n"))
		var err error
		if fd, err = l.Detach(h); err != nil {
			t.Errorf("Detach = %v", err)
		}
		pending, carry, _, _ = l.Export(nil, nil, nil, h)
	})
	for i := range a.Loops() {
		onLoopN(a, fa, i, func(l *Loop) {
			l.DetachListeners(func(fd, tag int, tls bool) { lfd, ltag = fd, tag })
		})
	}
	connDup, _ := unix.Dup(fd)
	lnDup, _ := unix.Dup(lfd)

	var bmu sync.Mutex
	var bGot []byte
	var bHandle Handle
	openedB := make(chan Handle, 1)
	fb := &funcHandler{}
	fb.data = func(l *Loop, hh Handle, in []byte) int {
		bmu.Lock()
		bGot, bHandle = append(bGot[:0], in...), hh
		bmu.Unlock()
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			return i + 1
		}
		return 0 // as on the first engine: the unfinished line stays
	}
	fb.open = func(l *Loop, hh Handle, _ int, _ netip.Addr) bool { openedB <- hh; return true }
	b, err := New(Config{Loops: 2}, fb)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if _, err := b.AdoptListener(lnDup, ltag); err != nil {
		t.Fatalf("AdoptListener = %v", err)
	}
	if err := b.AdoptConn(h, connDup, pending, carry); err != nil {
		t.Fatalf("AdoptConn = %v", err)
	}
	if err := b.AdoptConn(h, -1, nil, nil); !errors.Is(err, ErrSlotTaken) {
		t.Errorf("AdoptConn(same handle twice) = %v; want ErrSlotTaken", err)
	}
	// The first engine lets go: its copies close, the socket stays open.
	a.Stop()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if s := readN(t, c, len("written before the move\n")); s != "written before the move\n" {
		t.Fatalf("client read %q", s)
	}
	c.Write([]byte("tial\n"))
	waitFor(t, "the request on the new engine", 5*time.Second, func() bool {
		bmu.Lock()
		defer bmu.Unlock()
		return string(bGot) == "partial\n"
	})
	if bHandle != h {
		t.Errorf("OnData on the new engine for handle %#x; want the moved handle %#x", bHandle, h)
	}
	n := dial(t, addr)
	defer n.Close()
	select {
	case nh := <-openedB:
		if nh == h {
			t.Errorf("a new conn got the moved conn's handle %#x", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted listener accepted nothing")
	}
}

// onLoopN is onLoop for loop i.
func onLoopN(e *Engine, f *funcHandler, i int, fn func(l *Loop)) {
	done := make(chan struct{})
	f.mu.Lock()
	prev := f.task
	f.task = func(l *Loop, t Task) {
		if g, ok := t.V.(func(*Loop)); ok {
			g(l)
			return
		}
		if prev != nil {
			prev(l, t)
		}
	}
	f.mu.Unlock()
	e.Submit(i, Task{V: func(l *Loop) { fn(l); close(done) }})
	<-done
}

// lastOpened records the handle of the last conn OnOpen saw.
type lastOpened struct {
	mu sync.Mutex
	h  Handle
}

func (o *lastOpened) record(_ *Loop, h Handle, _ int, _ netip.Addr) bool {
	o.mu.Lock()
	o.h = h
	o.mu.Unlock()
	return true
}

// wait returns the last opened handle once there is one.
func (o *lastOpened) wait(t *testing.T) Handle {
	t.Helper()
	var h Handle
	waitFor(t, "OnOpen", 5*time.Second, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		h = o.h
		return h != 0
	})
	return h
}
