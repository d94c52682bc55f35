package engine

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fanHandler keeps each loop's open handles in a slice only that loop touches; a task whose V
// is a *frame writes the frame by reference to every handle of the loop.
type fanHandler struct {
	funcHandler
	perLoop [][]Handle // perLoop[i] is touched only by loop i
	greet   []byte     // written to every conn on open, if set
}

func newFanHandler(loops int) *fanHandler {
	f := &fanHandler{perLoop: make([][]Handle, loops)}
	f.open = func(l *Loop, h Handle, _ int, _ netip.Addr) bool {
		f.perLoop[l.Index()] = append(f.perLoop[l.Index()], h)
		if f.greet != nil {
			l.Write(h, f.greet)
		}
		return true
	}
	f.task = func(l *Loop, t Task) {
		fr := t.V.(*frame)
		for _, h := range f.perLoop[l.Index()] {
			l.WriteRef(h, fr.b)
		}
		l.Defer(fr)
	}
	return f
}

// frame is a shared outbound frame; Release runs on each loop after its flush and signals done
// once every loop has released it.
type frame struct {
	b    []byte
	refs atomic.Int32
	done chan struct{}
}

func (f *frame) Release() {
	if f.refs.Add(-1) == 0 {
		f.done <- struct{}{}
	}
}

// send fans f out through every loop and waits until every loop has flushed it.
func (f *frame) send(e *Engine) {
	f.refs.Store(int32(e.Loops()))
	for i := range e.Loops() {
		e.Submit(i, Task{V: f})
	}
	<-f.done
}

// dialMany opens n client conns to addr.
func dialMany(t testing.TB, addr string, n int) []*net.TCPConn {
	t.Helper()
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = dial(t, addr)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

func manyConns() int {
	if raceEnabled {
		return 1000
	}
	return 5000
}

// TestFanOutToAll holds 5,000 conns in one process: each does a request/response through
// OnData, then one 64-byte frame submitted from another goroutine reaches every client
// intact, and Stop closes every conn with one OnClose each.
func TestFanOutToAll(t *testing.T) {
	n := manyConns()
	f := newFanHandler(2)
	f.data = func(l *Loop, h Handle, in []byte) int {
		l.Write(h, in)
		return len(in)
	}
	e, addr := startEngine(t, Config{Loops: 2}, f)
	conns := dialMany(t, addr, n)
	waitFor(t, "all conns open", 20*time.Second, func() bool { return e.Stats().Open == int64(n) })

	// Request/response on every conn, all in flight at once.
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Appendf(nil, "ping %05d\n", i)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(req))
			if _, err := c.Write(req); err != nil {
				bad.Add(1)
				return
			}
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, req) {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b != 0 {
		t.Fatalf("%d of %d conns failed the request/response", b, n)
	}

	fr := &frame{b: bytes.Repeat([]byte("0123456789abcdef"), 4), done: make(chan struct{}, 1)}
	go fr.send(e) // from another goroutine
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]byte, len(fr.b))
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, fr.b) {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b != 0 {
		t.Fatalf("%d of %d conns did not receive the fanned-out frame intact", b, n)
	}

	e.Stop()
	closes := f.closeErrs()
	if len(closes) != n {
		t.Fatalf("OnClose ran for %d conns; want %d", len(closes), n)
	}
	for h, errs := range closes {
		if len(errs) != 1 || errs[0] != ErrEngineStopped {
			t.Fatalf("OnClose(%x) = %v; want once, ErrEngineStopped", uint64(h), errs)
		}
	}
}

// rawDial opens n blocking client sockets to addr with raw syscalls, so that the client side
// puts nothing on the Go heap; it returns their fds.
func rawDial(t testing.TB, addr netip.AddrPort, n int) []int {
	t.Helper()
	fds := make([]int, 0, n)
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(fd, sa); err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	return fds
}

// TestHeapPerIdleConn logs the Go heap the engine holds per idle connection at 5,000 conns
// (each got one 64-byte greeting written and flushed, then idles). Clients are raw sockets.
func TestHeapPerIdleConn(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are meaningless under the race detector")
	}
	const n = 5000
	f := newFanHandler(2)
	f.greet = bytes.Repeat([]byte("g"), 64)
	e, addr := startEngine(t, Config{Loops: 2, TickInterval: 10 * time.Millisecond}, f)
	ap := netip.MustParseAddrPort(addr)
	rawDial(t, ap, 10) // warm up: pools, first slab growth
	waitFor(t, "warm-up conns", 10*time.Second, func() bool { return e.Stats().Open == 10 })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rawDial(t, ap, n)
	waitFor(t, "all conns open", 20*time.Second, func() bool { return e.Stats().Open == n+10 })
	time.Sleep(200 * time.Millisecond) // greetings flushed; idle ticks trim the burst's pooled chunks
	runtime.GC()
	runtime.ReadMemStats(&after)
	delta := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("Go heap per idle conn at %d conns: %.1f B (HeapAlloc %+d B; includes the test's fd list at 8 B/conn and the handler's handle lists at 8 B/conn)",
		n, float64(delta)/n, delta)
	t.Logf("goroutines: %d", runtime.NumGoroutine())
}

// TestAcceptNoAllocs: once the table and the pools have grown, accepting, opening and closing
// a connection allocates nothing (accept4 fills loop-owned scratch; the peer is a netip.Addr
// value; the hand-off between loops reuses its slices). Clients are raw sockets.
func TestAcceptNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n = 1000
	e, addr := startEngine(t, Config{Loops: 2}, nopHandler{})
	ap := netip.MustParseAddrPort(addr)
	round := func(base int64) {
		fds := rawDial(t, ap, n)
		waitFor(t, "conns open", 10*time.Second, func() bool { return e.Stats().Accepted == base+n })
		for _, fd := range fds {
			unix.Close(fd)
		}
		waitFor(t, "conns closed", 10*time.Second, func() bool { return e.Stats().Open == 0 })
	}
	round(0) // grow the slab, the pools and the hand-off slices
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	round(n)
	runtime.ReadMemStats(&after)
	// rawDial's fd slice and the test's own bookkeeping are a handful of allocations.
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.05 {
		t.Fatalf("allocations per accepted+closed conn = %.3f; want 0", per)
	}
}

// nopHandler accepts every conn and does nothing (funcHandler records closes, which allocates).
type nopHandler struct{}

func (nopHandler) OnOpen(*Loop, Handle, int, netip.Addr) bool { return true }
func (nopHandler) OnData(_ *Loop, _ Handle, in []byte) int    { return len(in) }
func (nopHandler) OnClose(*Loop, Handle, error)               {}
func (nopHandler) OnTask(*Loop, Task)                         {}
func (nopHandler) OnTick(*Loop, time.Time)                    {}
