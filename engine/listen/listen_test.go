package listen

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// newLoop returns a Loop on a real poller with two listeners on 127.0.0.1:0 (tags 7 and 8)
// and their addresses.
func newLoop(t *testing.T, set *Set) (*Loop, *sys.Poller, []string) {
	t.Helper()
	p, err := sys.OpenPoller(-1)
	if err != nil {
		t.Fatal(err)
	}
	ll := NewLoop(set, &p, -2, slog.Default(), 0)
	t.Cleanup(func() { ll.Close(); p.Close() })
	var addrs []string
	for _, tag := range []int{7, 8} {
		fd, err := sys.Listen("127.0.0.1:0", false)
		if err != nil {
			t.Fatal(err)
		}
		a, err := sys.BoundAddr(fd)
		if err != nil {
			t.Fatal(err)
		}
		if err := ll.Attach(fd, tag, nil); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a.String())
	}
	return &ll, &p, addrs
}

// accepted collects what Accept hands over.
type accepted struct{ tags []int }

func (a *accepted) take(fd, tag int, _ *tlslayer.Server, _ netip.Addr) {
	a.tags = append(a.tags, tag)
	unix.Close(fd)
}

// acceptAll waits for the poller to report listeners and accepts from them until n came.
func acceptAll(t *testing.T, ll *Loop, p *sys.Poller, a *accepted, n int) {
	t.Helper()
	events := make([]unix.EpollEvent, 8)
	deadline := time.Now().Add(5 * time.Second)
	for len(a.tags) < n && time.Now().Before(deadline) {
		k, err := p.Wait(events, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[:k] {
			if ev.Fd <= -2 {
				ll.Accept(int(-2-ev.Fd), ev.Events, time.Now(), a.take)
			}
		}
	}
}

// TestAcceptDetachStop: connections reach take with their listener's tag; detached
// listeners leave connections in the kernel's queue until reattached; Stop with a tag shuts
// that listener only, and its loop closes it at the next event.
func TestAcceptDetachStop(t *testing.T) {
	var set Set
	ll, p, addrs := newLoop(t, &set)
	var a accepted
	dial := func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	dial(addrs[0])
	dial(addrs[1])
	acceptAll(t, ll, p, &a, 2)
	if len(a.tags) != 2 || a.tags[0]+a.tags[1] != 15 {
		t.Fatalf("accepted tags %v; want 7 and 8", a.tags)
	}

	var detached []int
	ll.Detach(func(fd, tag int, tls bool) { detached = append(detached, tag) })
	if len(detached) != 2 {
		t.Fatalf("Detach gave %v; want both listeners", detached)
	}
	dial(addrs[0]) // waits in the accept queue
	if k, _ := p.Wait(make([]unix.EpollEvent, 8), 50); k != 0 {
		t.Fatalf("%d events from detached listeners", k)
	}
	ll.Reattach()
	acceptAll(t, ll, p, &a, 3)
	if len(a.tags) != 3 || a.tags[2] != 7 {
		t.Fatalf("after Reattach: accepted %v; want a third from tag 7", a.tags)
	}

	set.Stop(8)
	if _, err := net.Dial("tcp", addrs[1]); err == nil {
		t.Fatal("dial to a stopped listener succeeded")
	}
	dial(addrs[0])
	acceptAll(t, ll, p, &a, 4)
	if len(a.tags) != 4 || a.tags[3] != 7 {
		t.Fatalf("after Stop(8): accepted %v; want a fourth from tag 7", a.tags)
	}
	set.mu.Lock()
	closed := set.fds[1] == -1 && set.fds[0] >= 0
	set.mu.Unlock()
	if !closed {
		t.Fatalf("after Stop(8) and its event: fds %v; want the second closed, the first open", set.fds)
	}
}

// TestOpen: with SO_REUSEPORT every socket is bound to the port the first got; without it a
// port in use is an error.
func TestOpen(t *testing.T) {
	fds, bound, err := Open("127.0.0.1:0", 3, true)
	if err != nil || len(fds) != 3 || bound.Port == 0 {
		t.Fatalf("Open(:0, 3, reuse) = %v, %v, %v; want 3 sockets on one port", fds, bound, err)
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, fd := range fds[1:] {
		if a, err := sys.BoundAddr(fd); err != nil || a.Port != bound.Port {
			t.Fatalf("socket %d bound to %v, %v; want port %d", fd, a, err, bound.Port)
		}
	}
	if got, _, err := Open(bound.String(), 1, false); err == nil {
		unix.Close(got[0])
		t.Fatalf("Open(%s) without SO_REUSEPORT while in use: no error", bound)
	}
}
