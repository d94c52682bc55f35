package engine

import (
	"bytes"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// burstWriter is a handler whose tick writes one burst of frames to the conn when asked:
// what a broadcast to many HTTP/2 streams of one connection does in one loop iteration.
type burstWriter struct {
	funcHandler
	conn   atomic.Uint64
	bursts atomic.Int32 // bursts asked for and not yet written
}

func newBurstWriter(frames int, frame []byte) *burstWriter {
	b := &burstWriter{}
	b.open = func(l *Loop, h Handle, _ int, _ netip.Addr) bool { b.conn.Store(uint64(h)); return true }
	b.tick = func(l *Loop, _ time.Time) {
		h := Handle(b.conn.Load())
		if !l.Valid(h) || b.bursts.Load() == 0 {
			return
		}
		b.bursts.Add(-1)
		for range frames {
			l.WriteRef(h, frame)
		}
	}
	return b
}

// TestBurstOnDrainedConn: a conn whose output has all gone out takes one iteration's burst
// over WriteBufferLimit (here 2.5× it) without being cut, and its reader gets every byte.
func TestBurstOnDrainedConn(t *testing.T) {
	t.Parallel()
	const frames, size = 20, 8 << 10 // 160 KiB in one iteration, limit 64 KiB
	frame := bytes.Repeat([]byte{'b'}, size)
	bw := newBurstWriter(frames, frame)
	e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10, SendBufferBytes: 4 << 10, TickInterval: 2 * time.Millisecond}, bw)
	c := dialSmallRcvbuf(t, addr)
	defer c.Close()
	waitFor(t, "the conn to open", 5*time.Second, func() bool { return bw.conn.Load() != 0 })
	bw.bursts.Store(1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadFull(c, make([]byte, frames*size))
	if err != nil {
		t.Fatalf("read %d of %d bytes of the burst: %v (slow consumers %d)", got, frames*size, err, e.Stats().SlowConsumers)
	}
	if n := e.Stats().SlowConsumers; n != 0 {
		t.Errorf("SlowConsumers = %d after a burst the reader took; want 0", n)
	}
}

// TestBurstOverBacklogCut: the burst allowance is per iteration. A reader that stops is given
// one burst; the next write, while that backlog is still over WriteBufferLimit, cuts it.
func TestBurstOverBacklogCut(t *testing.T) {
	t.Parallel()
	const frames, size = 20, 8 << 10
	frame := bytes.Repeat([]byte{'b'}, size)
	bw := newBurstWriter(frames, frame)
	e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10, SendBufferBytes: 4 << 10, TickInterval: 2 * time.Millisecond}, bw)
	c := dialSmallRcvbuf(t, addr) // never read
	defer c.Close()
	waitFor(t, "the conn to open", 5*time.Second, func() bool { return bw.conn.Load() != 0 })
	bw.bursts.Store(1)
	waitFor(t, "the first burst to be written", 5*time.Second, func() bool { return bw.bursts.Load() == 0 })
	if n := e.Stats().SlowConsumers; n != 0 {
		t.Fatalf("SlowConsumers = %d after one burst; want 0 (a burst on a drained conn is admitted)", n)
	}
	bw.bursts.Store(1)
	waitFor(t, "slow consumer cut", 5*time.Second, func() bool { return e.Stats().SlowConsumers == 1 })
	for _, errs := range bw.closeErrs() {
		if len(errs) != 1 || errs[0] != ErrSlowConsumer {
			t.Fatalf("OnClose errs = %v; want [ErrSlowConsumer]", errs)
		}
	}
}
