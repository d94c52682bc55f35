package connbuf

import (
	"bytes"
	"testing"
)

// TestOwnRefsPacks: a thousand small referenced frames left over after a flush are copied into
// a handful of packed chunks, in order, and the queue no longer refers to the callers' bytes.
func TestOwnRefsPacks(t *testing.T) {
	var p OutPool
	var q OutQueue
	var want []byte
	frame := bytes.Repeat([]byte("f"), 64)
	for i := range 1000 {
		if i%100 == 0 {
			b := []byte{byte('a' + i/100)}
			p.AppendCopy(&q, b)
			want = append(want, b...)
		}
		q.AppendRef(frame)
		want = append(want, frame...)
	}
	p.OwnRefs(&q)
	var got []byte
	for _, s := range q.segs[q.head:] {
		if s.c == nil {
			t.Fatal("a segment still refers to caller bytes after ownRefs")
		}
		got = append(got, s.b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("queue bytes after ownRefs differ from what was queued (%d vs %d bytes)", len(got), len(want))
	}
	// Packing restarts after each of the 10 owned copies: at most one partly filled chunk each.
	if max := len(want)/chunkBytes + 10 + 2; len(q.segs) > max {
		t.Fatalf("ownRefs left %d segments for %d bytes; want at most %d", len(q.segs), len(want), max)
	}
	frame[0] = 'X' // the caller reuses its frame
	if q.segs[0].b[1] == 'X' || q.segs[0].b[0] != 'a' {
		t.Fatal("queue changed with the caller's bytes")
	}
}

// TestConsumeAcrossSegments: partial writes drop exactly the written prefix.
func TestConsumeAcrossSegments(t *testing.T) {
	var p OutPool
	var q OutQueue
	q.AppendRef([]byte("hello "))
	p.AppendCopy(&q, []byte("world"))
	q.AppendRef([]byte("!"))
	p.consume(&q, 8)
	var got []byte
	for _, s := range q.segs[q.head:] {
		got = append(got, s.b...)
	}
	if string(got) != "rld!" {
		t.Fatalf("after consume(8) queue = %q; want %q", got, "rld!")
	}
	p.consume(&q, 4)
	if q.head != 0 || len(q.segs) != 0 {
		t.Fatalf("queue not reset after consuming everything: head %d, len %d", q.head, len(q.segs))
	}
}
