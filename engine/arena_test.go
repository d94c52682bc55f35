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

// TestArenaSegments: consecutive arena writes to one queue extend one segment; writes
// interleaved between queues do not; a write larger than a block's room spans blocks; after
// a partial write, ownRefs moves only the unwritten rest into the queue's own chunk, and the
// rewound arena may be overwritten without changing the queue.
func TestArenaSegments(t *testing.T) {
	var p outPool
	var q1, q2 outQueue
	p.appendArena(&q1, []byte("head "))
	p.appendArena(&q1, []byte("frame1 "))
	p.appendArena(&q2, []byte("other"))
	p.appendArena(&q1, []byte("frame2"))
	if len(q1.segs) != 2 || string(q1.segs[0].b) != "head frame1 " || string(q1.segs[1].b) != "frame2" {
		t.Fatalf("q1 segments = %q; want [\"head frame1 \" \"frame2\"]", segStrings(&q1))
	}
	if len(q2.segs) != 1 || string(q2.segs[0].b) != "other" {
		t.Fatalf("q2 segments = %q; want [\"other\"]", segStrings(&q2))
	}
	for _, s := range q1.segs {
		if s.c != nil || cap(s.b) != len(s.b) {
			t.Fatal("an arena segment is marked owned or has spare room")
		}
	}

	// Fill to just short of a block's end, then a write that spans two blocks.
	var q3 outQueue
	filler := arenaBlockBytes - len(p.arena.blocks[0]) - 3
	p.appendArena(&q3, bytes.Repeat([]byte("z"), filler))
	big := bytes.Repeat([]byte("0123456789"), 100)
	p.appendArena(&q3, big)
	if got := queued(&q3); !bytes.HasSuffix(got, big) || len(got) != filler+len(big) {
		t.Fatalf("q3 holds %d bytes; want the filler and then the write that spans blocks", len(got))
	}
	if p.arena.cur != 1 || len(q3.segs) != 2 {
		t.Fatalf("arena block %d, q3 %d segments; want block 1, 2 segments", p.arena.cur, len(q3.segs))
	}

	// Partial write of q1, then the flush's ownRefs and rewind.
	p.consume(&q1, 3)
	p.ownRefs(&q1)
	p.arena.rewind()
	p.appendArena(&q2, bytes.Repeat([]byte("!"), 64)) // reuses the rewound block
	if got := string(queued(&q1)); got != "d frame1 frame2" {
		t.Fatalf("q1 after partial write and ownRefs = %q; want %q", got, "d frame1 frame2")
	}
	if len(q1.segs) != 1 || q1.segs[0].c == nil || cap(q1.segs[0].c) != chunkBytes {
		t.Fatalf("q1 = %d segments; want the rest packed in one owned chunk", len(q1.segs))
	}
}

func segStrings(q *outQueue) []string {
	var s []string
	for _, g := range q.segs[q.head:] {
		s = append(s, string(g.b))
	}
	return s
}

func queued(q *outQueue) []byte {
	var b []byte
	for _, g := range q.segs[q.head:] {
		b = append(b, g.b...)
	}
	return b
}

// TestArenaTrim: idle ticks shed arena blocks down to arenaBlocksLow, never a block in use.
func TestArenaTrim(t *testing.T) {
	var p outPool
	var q outQueue
	p.appendArena(&q, make([]byte, 8*arenaBlockBytes+1)) // 9 blocks
	p.arena.trim()
	if n := len(p.arena.blocks); n != 9 {
		t.Fatalf("trim during the iteration left %d blocks; want all 9 (in use)", n)
	}
	p.arena.rewind()
	for range 10 {
		p.arena.trim()
	}
	if n := len(p.arena.blocks); n != arenaBlocksLow {
		t.Fatalf("blocks after idle trims = %d; want %d", n, arenaBlocksLow)
	}
}

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
