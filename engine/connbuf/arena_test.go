package connbuf

import (
	"bytes"
	"testing"
)

// TestArenaSegments: consecutive arena writes to one queue extend one segment; writes
// interleaved between queues do not; a write larger than a block's room spans blocks; after
// a partial write, ownRefs moves only the unwritten rest into the queue's own chunk, and the
// rewound arena may be overwritten without changing the queue.
func TestArenaSegments(t *testing.T) {
	var p OutPool
	var q1, q2 OutQueue
	p.AppendArena(&q1, []byte("head "))
	p.AppendArena(&q1, []byte("frame1 "))
	p.AppendArena(&q2, []byte("other"))
	p.AppendArena(&q1, []byte("frame2"))
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
	var q3 OutQueue
	filler := arenaBlockBytes - len(p.arena.blocks[0]) - 3
	p.AppendArena(&q3, bytes.Repeat([]byte("z"), filler))
	big := bytes.Repeat([]byte("0123456789"), 100)
	p.AppendArena(&q3, big)
	if got := queued(&q3); !bytes.HasSuffix(got, big) || len(got) != filler+len(big) {
		t.Fatalf("q3 holds %d bytes; want the filler and then the write that spans blocks", len(got))
	}
	if p.arena.cur != 1 || len(q3.segs) != 2 {
		t.Fatalf("arena block %d, q3 %d segments; want block 1, 2 segments", p.arena.cur, len(q3.segs))
	}

	// Partial write of q1, then the flush's ownRefs and rewind.
	p.consume(&q1, 3)
	p.OwnRefs(&q1)
	p.arena.rewind()
	p.AppendArena(&q2, bytes.Repeat([]byte("!"), 64)) // reuses the rewound block
	if got := string(queued(&q1)); got != "d frame1 frame2" {
		t.Fatalf("q1 after partial write and ownRefs = %q; want %q", got, "d frame1 frame2")
	}
	if len(q1.segs) != 1 || q1.segs[0].c == nil || cap(q1.segs[0].c) != chunkBytes {
		t.Fatalf("q1 = %d segments; want the rest packed in one owned chunk", len(q1.segs))
	}
}

func segStrings(q *OutQueue) []string {
	var s []string
	for _, g := range q.segs[q.head:] {
		s = append(s, string(g.b))
	}
	return s
}

func queued(q *OutQueue) []byte {
	var b []byte
	for _, g := range q.segs[q.head:] {
		b = append(b, g.b...)
	}
	return b
}

// TestArenaTrim: idle ticks shed arena blocks down to arenaBlocksLow, never a block in use.
func TestArenaTrim(t *testing.T) {
	var p OutPool
	var q OutQueue
	p.AppendArena(&q, make([]byte, 8*arenaBlockBytes+1)) // 9 blocks
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
