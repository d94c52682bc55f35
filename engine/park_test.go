package engine

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// TestParkedConnResumes: Detach leaves an idle conn in the epoll set (parked); Reattach of a
// conn that saw no event while detached resumes it as it was — its queued write goes out and
// what the client sends next is read — and a conn that did see an event is taken out of the
// set at that event, unread, and put back by Reattach.
func TestParkedConnResumes(t *testing.T) {
	var mu sync.Mutex
	got := map[Handle]*bytes.Buffer{}
	var opened lastOpened
	f := &funcHandler{open: opened.record}
	f.data = func(l *Loop, h Handle, in []byte) int {
		mu.Lock()
		if got[h] == nil {
			got[h] = &bytes.Buffer{}
		}
		got[h].Write(in)
		mu.Unlock()
		return len(in)
	}
	e, addr := startEngine(t, Config{Loops: 1}, f)
	idle := dial(t, addr)
	defer idle.Close()
	hIdle := opened.wait(t)
	busy := dial(t, addr)
	defer busy.Close()
	var hBusy Handle
	waitFor(t, "the second conn's OnOpen", 5*time.Second, func() bool {
		hBusy = opened.wait(t)
		return hBusy != hIdle
	})

	parked := func(h Handle) (p bool) {
		onLoop(e, f, func(l *Loop) {
			c, _ := l.conn(h)
			p = c.Flags&flagParked != 0
		})
		return p
	}
	onLoop(e, f, func(l *Loop) {
		for _, h := range []Handle{hIdle, hBusy} {
			if _, err := l.Detach(h); err != nil {
				t.Fatalf("Detach = %v", err)
			}
		}
		l.Write(hIdle, []byte("queued while parked"))
	})
	busy.Write([]byte("sent while detached"))
	waitFor(t, "the busy conn taken out of the epoll set at its event", 5*time.Second, func() bool { return !parked(hBusy) })
	if !parked(hIdle) {
		t.Errorf("the idle conn left the epoll set without an event")
	}
	mu.Lock()
	if got[hBusy] != nil {
		t.Errorf("OnData got %q from a detached conn", got[hBusy])
	}
	mu.Unlock()
	onLoop(e, f, func(l *Loop) {
		for _, h := range []Handle{hIdle, hBusy} {
			if err := l.Reattach(h); err != nil {
				t.Errorf("Reattach = %v", err)
			}
		}
	})
	if s := readN(t, idle, len("queued while parked")); s != "queued while parked" {
		t.Errorf("client read %q", s)
	}
	idle.Write([]byte("after"))
	waitFor(t, "OnData on both conns after Reattach", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[hIdle] != nil && got[hIdle].String() == "after" && got[hBusy] != nil && got[hBusy].String() == "sent while detached"
	})
}
