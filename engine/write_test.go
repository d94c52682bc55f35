package engine

import (
	"bytes"
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteNoAllocs: once the arena and the pools have grown, request/response rounds on
// 1,000 conns (two Writes per answer) allocate nothing in the engine.
func TestWriteNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n = 1000
	head, body := bytes.Repeat([]byte("h"), stormHead), bytes.Repeat([]byte("f"), stormFrame)
	f := newFanHandler(2)
	f.data = func(l *Loop, h Handle, in []byte) int {
		l.Write(h, head)
		l.Write(h, body)
		return len(in)
	}
	e, addr := startEngine(t, Config{Loops: 2, TickInterval: time.Hour}, f)
	fds := rawDial(t, netip.MustParseAddrPort(addr), n)
	waitFor(t, "conns open", 10*time.Second, func() bool { return e.Stats().Open == n })
	buf := make([]byte, stormHead+stormFrame)
	readAll := func(size int) {
		for _, fd := range fds {
			for got := 0; got < size; {
				k, err := unix.Read(fd, buf[got:size])
				if err != nil || k == 0 {
					t.Fatalf("read answer: %d, %v", k, err)
				}
				got += k
			}
		}
	}
	// Grow every pool to its peak: one frame written to every conn of a loop in one iteration.
	fr := &frame{b: bytes.Repeat([]byte("w"), 64), done: make(chan struct{}, 1)}
	fr.send(e)
	readAll(len(fr.b))
	req := []byte("GET / HTTP/1.1\r\n\r\n")
	round := func() {
		for _, fd := range fds {
			if _, err := unix.Write(fd, req); err != nil {
				t.Fatal(err)
			}
		}
		readAll(len(buf))
	}
	for range 5 { // the arena grows to the most bytes one iteration has taken
		round()
	}
	// Mallocs counts the whole process, where goroutines other tests left
	// behind may still allocate now and then, and a loop's dirty list or
	// arena still grows when an iteration takes more answers than any
	// before (a handful per window, profiled). An allocation per request
	// would show as 1.0 in every window: the quietest of three must stay
	// under one per hundred requests.
	best := math.Inf(1)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 5 {
			round()
		}
		runtime.ReadMemStats(&after)
		best = min(best, float64(after.Mallocs-before.Mallocs)/(5*n))
	}
	if best > 0.01 {
		t.Fatalf("allocations per answered request = %.4f in the quietest of 3 windows; want 0", best)
	}
}
