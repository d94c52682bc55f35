package engine

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAdoptedOutputFlushedAtStart: output an adopted conn brought with it (frames queued for a
// subscriber while its old process quiesced) is written by the new loop's first iteration,
// not after its first wait. Nothing else happens on the conn or the loop, and the tick is an
// hour away: a loop that waited before flushing would sit on the bytes until the tick.
func TestAdoptedOutputFlushedAtStart(t *testing.T) {
	var opened lastOpened
	fa := &funcHandler{open: opened.record}
	fa.data = func(l *Loop, h Handle, in []byte) int { return len(in) }
	a, addr := startEngine(t, Config{Loops: 1}, fa)
	c := dial(t, addr)
	defer c.Close()
	h := opened.wait(t)

	const queued = "queued before the move\n"
	var fd int
	var pending []byte
	onLoop(a, fa, func(l *Loop) {
		var err error
		if fd, err = l.Detach(h); err != nil {
			t.Errorf("Detach = %v", err)
		}
		l.Write(h, []byte(queued))
		pending, _, _, _ = l.Export(nil, nil, nil, h)
	})
	if string(pending) != queued {
		t.Fatalf("Export = %q; want the queued write", pending)
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	a.Stop()

	b, err := New(Config{Loops: 1, TickInterval: time.Hour}, &funcHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if err := b.AdoptConn(h, dup, pending, nil); err != nil {
		t.Fatalf("AdoptConn = %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if s := readN(t, c, len(queued)); s != queued {
		t.Fatalf("client read %q", s)
	}
}
