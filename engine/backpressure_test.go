package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// pipeHandler answers every "r NNNNN ...\n" request line with a 150-byte line "a NNNNN ...\n".
// With polite set it stops at a request boundary once the conn is Congested. It records the
// most output ever pending on a conn and whether it ever saw a conn congested.
type pipeHandler struct {
	funcHandler
	polite     bool
	maxPending atomic.Int64
	congested  atomic.Bool
}

const (
	pipeReqBytes    = 32
	pipeAnswerBytes = 150
)

func pipeRequest(dst []byte, i int) []byte {
	start := len(dst)
	dst = fmt.Appendf(dst, "r %05d ", i)
	for len(dst)-start < pipeReqBytes-1 {
		dst = append(dst, 'x')
	}
	return append(dst, '\n')
}

func pipeAnswer(dst []byte, num []byte) []byte {
	start := len(dst)
	dst = append(append(dst, "a "...), num...)
	for len(dst)-start < pipeAnswerBytes-1 {
		dst = append(dst, 'y')
	}
	return append(dst, '\n')
}

func newPipeHandler(polite bool) *pipeHandler {
	p := &pipeHandler{polite: polite}
	var ans []byte
	p.data = func(l *Loop, h Handle, in []byte) int {
		n := 0
		for {
			if l.Congested(h) {
				p.congested.Store(true)
				if p.polite {
					return n
				}
			}
			k := bytes.IndexByte(in[n:], '\n')
			if k < 0 {
				return n
			}
			ans = pipeAnswer(ans[:0], in[n+2:n+7])
			l.Write(h, ans)
			if pend := int64(l.Pending(h)); pend > p.maxPending.Load() {
				p.maxPending.Store(pend)
			}
			n += k + 1
		}
	}
	return p
}

// TestPipelineBackPressure: a client pipelines 20,000 requests in 64 KiB writes and reads the
// 150-byte answers slowly through a 4 KiB receive buffer. With WriteBufferLimit 64 KiB the 3 MB
// of answers all arrive, in order, and the conn is not cut: the loop stops reading it while
// its output is over 32 KiB. A handler that checks Congested keeps the backlog at the
// high-water mark; one that does not is held to 16 × WriteBufferLimit for its own answers.
func TestPipelineBackPressure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		polite bool
	}{
		{"checks Congested", true},
		{"ignores Congested", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const (
				requests = 20000
				limit    = 64 << 10
			)
			p := newPipeHandler(tc.polite)
			e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: limit}, p)
			c := dialSmallRcvbuf(t, addr)
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			werr := make(chan error, 1)
			go func() {
				var buf []byte
				for i := range requests {
					buf = pipeRequest(buf, i)
					if len(buf) >= 64<<10 || i == requests-1 {
						if _, err := c.Write(buf); err != nil {
							werr <- err
							return
						}
						buf = buf[:0]
					}
				}
				werr <- nil
			}()
			r := bufio.NewReaderSize(c, 4<<10)
			var want []byte
			for i := range requests {
				line, err := r.ReadSlice('\n')
				if err != nil {
					t.Fatalf("answer %d: %v (stats %+v)", i, err, e.Stats())
				}
				want = pipeAnswer(want[:0], fmt.Appendf(nil, "%05d", i))
				if !bytes.Equal(line, want) {
					t.Fatalf("answer %d = %q; want %q", i, line, want)
				}
				if i%100 == 0 {
					time.Sleep(time.Millisecond) // a slow reader: ~3 MB/s
				}
			}
			if err := <-werr; err != nil {
				t.Fatalf("client write: %v", err)
			}
			if s := e.Stats(); s.Closed != 0 || s.SlowConsumers != 0 || s.Open != 1 {
				t.Fatalf("Stats = %+v; want the conn open, none closed or cut", s)
			}
			if !p.congested.Load() {
				t.Fatalf("the conn was never Congested: the test did not build a backlog")
			}
			maxPending := p.maxPending.Load()
			t.Logf("most output pending: %d B", maxPending)
			if tc.polite && maxPending > limit/2+pipeAnswerBytes {
				t.Fatalf("most output pending = %d; want ≤ %d (high-water mark + one answer)", maxPending, limit/2+pipeAnswerBytes)
			}
		})
	}
}

// TestPausedPeerGoesAway: while reading a pipelining conn is paused, a client that resets the
// connection is noticed and closed at once.
func TestPausedPeerGoesAway(t *testing.T) {
	t.Parallel()
	p := newPipeHandler(true)
	e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10}, p)
	c := dialSmallRcvbuf(t, addr)
	defer c.Close()
	go func() {
		var buf []byte
		for i := range 20000 {
			buf = pipeRequest(buf, i)
		}
		c.Write(buf) // blocks once the server stops reading; fails at Close
	}()
	waitFor(t, "the conn congested", 5*time.Second, p.congested.Load)
	time.Sleep(20 * time.Millisecond)
	c.Close() // unread answers in its receive buffer: the kernel sends RST
	waitFor(t, "the server closed the conn", 5*time.Second, func() bool { return e.Stats().Closed == 1 })
	for _, errs := range p.closeErrs() {
		if len(errs) != 1 || errs[0] == nil || errors.Is(errs[0], ErrSlowConsumer) {
			t.Fatalf("OnClose errs = %v; want one syscall error or io.EOF", errs)
		}
	}
}

// TestPausedHalfClose: a client pipelines requests, shuts its write side down without reading
// (its FIN arrives while reading is paused), idles, then reads: the loop does not spin on the
// reported FIN, every answer arrives, and the conn then closes with io.EOF.
func TestPausedHalfClose(t *testing.T) {
	const requests = 5000
	p := newPipeHandler(true)
	e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10}, p)
	c := dialSmallRcvbuf(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var buf []byte
	for i := range requests {
		buf = pipeRequest(buf, i)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(buf) // 160 KB: more than the socket buffers take while paused
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	waitFor(t, "the conn congested", 5*time.Second, p.congested.Load)
	time.Sleep(50 * time.Millisecond)

	// Read until the writer is through and its FIN is out, then measure the CPU of an idle,
	// paused loop with the FIN reported.
	r := bufio.NewReaderSize(c, 4<<10)
	var want []byte
	read := 0
	readOne := func() {
		line, err := r.ReadSlice('\n')
		if err != nil {
			t.Fatalf("answer %d: %v", read, err)
		}
		want = pipeAnswer(want[:0], fmt.Appendf(nil, "%05d", read))
		if !bytes.Equal(line, want) {
			t.Fatalf("answer %d = %q; want %q", read, line, want)
		}
		read++
	}
	for done := false; !done; {
		select {
		case err := <-werr:
			if err != nil {
				t.Fatalf("client write: %v", err)
			}
			done = true
		default:
			readOne()
		}
	}
	// Let the server fill our buffer and pause again, its FIN seen.
	time.Sleep(50 * time.Millisecond)
	cpu0 := processCPU()
	time.Sleep(300 * time.Millisecond)
	if used := processCPU() - cpu0; used > 100*time.Millisecond {
		t.Fatalf("process CPU while the paused conn idled with the peer's FIN = %v in 300ms; want ≪ (a spinning loop)", used)
	}
	for read < requests {
		readOne()
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the last answer: %v; want io.EOF", err)
	}
	waitFor(t, "close after FIN", 5*time.Second, func() bool { return e.Stats().Closed == 1 })
	for _, errs := range p.closeErrs() {
		if len(errs) != 1 || errs[0] != io.EOF {
			t.Fatalf("OnClose errs = %v; want [EOF]", errs)
		}
	}
}

// TestPushOnlySlowReaderCut: a conn that sent nothing and does not read is still cut at
// WriteBufferLimit when pushes pile up on it; pausing its reads changes nothing for it.
func TestPushOnlySlowReaderCut(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte{'p'}, 8<<10)
	var conn atomic.Uint64
	var pushes atomic.Int32
	h := &funcHandler{
		open: func(l *Loop, h Handle, _ int, _ netip.Addr) bool { conn.Store(uint64(h)); return true },
	}
	h.tick = func(l *Loop, _ time.Time) {
		if c := Handle(conn.Load()); l.Valid(c) && pushes.Add(1) < 100 {
			l.WriteRef(c, payload)
		}
	}
	e, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10, SendBufferBytes: 4 << 10, TickInterval: 2 * time.Millisecond}, h)
	c := dialSmallRcvbuf(t, addr)
	defer c.Close()
	waitFor(t, "slow consumer cut", 5*time.Second, func() bool { return e.Stats().SlowConsumers == 1 })
	for _, errs := range h.closeErrs() {
		if len(errs) != 1 || errs[0] != ErrSlowConsumer {
			t.Fatalf("OnClose errs = %v; want [ErrSlowConsumer]", errs)
		}
	}
}

// TestResume: OnData consumes an "async" request and leaves the pipelined requests behind it
// unconsumed; the answer comes from another goroutine through a task, which writes it and
// calls Resume twice: OnData gets the carried requests once, with no new bytes, and answers
// them after the async answer. Resume on a conn without carry, or on a stale handle, does
// nothing.
func TestResume(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var eng atomic.Pointer[Engine]
	var conn atomic.Uint64
	h := &funcHandler{}
	var parked bool // loop-owned
	h.data = func(l *Loop, h Handle, in []byte) int {
		calls.Add(1)
		conn.Store(uint64(h))
		n := 0
		for !parked {
			k := bytes.IndexByte(in[n:], '\n')
			if k < 0 {
				break
			}
			line := in[n : n+k+1]
			n += k + 1
			if string(line) == "async\n" {
				parked = true
				go func() {
					time.Sleep(20 * time.Millisecond)
					eng.Load().Submit(l.Index(), Task{H: h})
				}()
				break
			}
			l.Write(h, append([]byte("ok "), line...))
		}
		return n
	}
	h.task = func(l *Loop, t Task) {
		l.Write(t.H, []byte("done\n"))
		parked = false
		l.Resume(t.H)
		l.Resume(t.H)
		l.Resume(Handle(uint64(t.H) + 1<<32)) // stale generation
	}
	e, addr := startEngine(t, Config{Loops: 1}, h)
	eng.Store(e)
	c := dial(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("one\nasync\ntwo\nthree\n")); err != nil {
		t.Fatal(err)
	}
	want := "ok one\ndone\nok two\nok three\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("OnData calls = %d; want 2 (the read, then one resume)", n)
	}
	// No carry now: the task's Resume does not call OnData.
	e.Submit(0, Task{H: Handle(conn.Load())})
	if _, err := io.ReadFull(c, got[:5]); err != nil || string(got[:5]) != "done\n" {
		t.Fatalf("read %q, %v; want %q", got[:5], err, "done\n")
	}
	time.Sleep(10 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Fatalf("OnData calls after a Resume without carry = %d; want 2", n)
	}
}
