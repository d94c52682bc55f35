package connbuf

import (
	"os"

	"github.com/pushwire/pushwire/engine/sys"
	"golang.org/x/sys/unix"
)

// Outbound queue: a connection owns one only while bytes are pending. It is a FIFO of
// segments, each either a reference valid until the end of the iteration's flush (to a
// caller's bytes for WriteRef, to the loop's write arena for Write) or a pooled chunk owned by
// the connection (the copied remainder of a reference the kernel did not take, or a Write to a
// conn already waiting for EPOLLOUT).

const (
	chunkBytes   = 4 << 10 // pooled outbound chunk
	chunkPoolMax = 1024    // pooled chunks kept per loop (4 MiB)
	chunkPoolLow = 32      // each tick the pool sheds half its chunks above this
	MaxIovecs    = 1024    // IOV_MAX: the most segments one WriteTo writes
)

// seg is one queued run of bytes: b is what is left to write. c is the owned chunk b lies in
// (nil for a reference); the spare room after b, b[len(b):cap(b)], takes later Writes.
type seg struct {
	b []byte
	c []byte
}

// OutQueue is one connection's pending output.
type OutQueue struct {
	segs []seg
	head int // segs[:head] are written and cleared
}

// OutPool is the loop's side pool of outbound queues (named by int32 index from slot.out) and
// of chunks.
type OutPool struct {
	outs   []OutQueue
	free   []int32
	chunks [][]byte
	iov    []unix.Iovec // writev scratch, MaxIovecs long
	arena  arena        // this iteration's Write copies (arena.go)
}

// NewOutPool returns an empty pool with its writev scratch.
func NewOutPool() OutPool {
	return OutPool{iov: make([]unix.Iovec, 0, MaxIovecs)}
}

// Get returns the index+1 of an empty queue.
func (p *OutPool) Get() int32 {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		return i + 1
	}
	p.outs = append(p.outs, OutQueue{})
	return int32(len(p.outs))
}

// At returns the queue named by idx (index+1).
func (p *OutPool) At(idx int32) *OutQueue { return &p.outs[idx-1] }

// Put releases queue idx (index+1), returning any chunks it still holds to the pool; the
// queue keeps its segs capacity for its next user.
func (p *OutPool) Put(idx int32) {
	q := &p.outs[idx-1]
	for i := q.head; i < len(q.segs); i++ {
		p.PutChunk(q.segs[i].c)
	}
	clear(q.segs)
	q.segs = q.segs[:0]
	q.head = 0
	p.free = append(p.free, idx-1)
}

// Chunk returns an empty owned buffer able to hold n bytes: a pooled chunk when n fits.
func (p *OutPool) Chunk(n int) []byte {
	if n > chunkBytes {
		return make([]byte, 0, n)
	}
	if k := len(p.chunks); k > 0 {
		c := p.chunks[k-1]
		p.chunks[k-1] = nil
		p.chunks = p.chunks[:k-1]
		return c
	}
	return make([]byte, 0, chunkBytes)
}

// PutChunk gives back a chunk taken with Chunk (one of another size is left to the collector).
func (p *OutPool) PutChunk(c []byte) {
	if cap(c) == chunkBytes && len(p.chunks) < chunkPoolMax {
		p.chunks = append(p.chunks, c[:0])
	}
}

// Trim sheds half the pooled chunks above chunkPoolLow, and idle arena blocks, so a burst's
// buffers go back to the collector within a few ticks once the loop is idle.
func (p *OutPool) Trim() {
	p.arena.trim()
	if n := len(p.chunks); n > chunkPoolLow {
		keep := chunkPoolLow + (n-chunkPoolLow)/2
		clear(p.chunks[keep:])
		p.chunks = p.chunks[:keep]
	}
}

// AppendCopy queues a copy of b, filling the spare room of the last owned chunk first.
func (p *OutPool) AppendCopy(q *OutQueue, b []byte) {
	if n := len(q.segs); n > q.head {
		last := &q.segs[n-1]
		if last.c != nil && len(last.b) < cap(last.b) {
			k := copy(last.b[len(last.b):cap(last.b)], b)
			last.b = last.b[:len(last.b)+k]
			b = b[k:]
		}
	}
	for len(b) > 0 {
		c := p.Chunk(len(b))
		k := copy(c[:cap(c)], b)
		q.segs = append(q.segs, seg{b: c[:k], c: c})
		b = b[k:]
	}
}

// AppendRef queues b by reference: b must stay unchanged until the flush has written it or
// OwnRefs copied it.
func (q *OutQueue) AppendRef(b []byte) {
	q.segs = append(q.segs, seg{b: b})
}

// Segs returns the number of segments not yet written; Seg(k) is the k-th of them.
func (q *OutQueue) Segs() int { return len(q.segs) - q.head }

// Seg returns the bytes of unwritten segment k (0 ≤ k < Segs()), valid until the queue
// changes.
func (q *OutQueue) Seg(k int) []byte { return q.segs[q.head+k].b }

// Len returns the bytes queued.
func (q *OutQueue) Len() int {
	n := 0
	for k := q.head; k < len(q.segs); k++ {
		n += len(q.segs[k].b)
	}
	return n
}

// hasRefs reports whether any queued segment still references a caller's bytes.
func (q *OutQueue) hasRefs() bool {
	for i := q.head; i < len(q.segs); i++ {
		if q.segs[i].c == nil {
			return true
		}
	}
	return false
}

// OwnRefs copies every still-referenced segment into owned buffers so the callers' bytes may
// be reused after the flush. Copies are packed into the spare room of the preceding owned
// chunk, so a thousand small referenced frames become a few chunks, not a thousand. The
// queue is rewritten in place: each input segment yields at most one new output segment, so
// the write index never passes the read index.
func (p *OutPool) OwnRefs(q *OutQueue) {
	if !q.hasRefs() {
		return
	}
	w := q.head
	for r := q.head; r < len(q.segs); r++ {
		s := q.segs[r]
		if s.c != nil {
			q.segs[w] = s
			w++
			continue
		}
		b := s.b
		if w > q.head {
			last := &q.segs[w-1]
			k := copy(last.b[len(last.b):cap(last.b)], b)
			last.b = last.b[:len(last.b)+k]
			b = b[k:]
		}
		if len(b) > 0 {
			c := append(p.Chunk(len(b)), b...)
			q.segs[w] = seg{b: c, c: c}
			w++
		}
	}
	clear(q.segs[w:])
	q.segs = q.segs[:w]
}

// WriteTo writes as much of q as one write or writev call takes (at most MaxIovecs
// segments) and drops what was written. It returns the bytes written and whether the kernel
// send buffer is full (EAGAIN or a short write); EAGAIN is not an error.
func (p *OutPool) WriteTo(fd int, q *OutQueue) (n int, full bool, err error) {
	var want int
	if len(q.segs)-q.head == 1 {
		b := q.segs[q.head].b
		want = len(b)
		n, err = sys.Write(fd, b)
	} else {
		iov := p.iov[:0]
		for i := q.head; i < len(q.segs) && len(iov) < MaxIovecs; i++ {
			b := q.segs[i].b
			if len(b) == 0 {
				continue
			}
			want += len(b)
			iov = append(iov, unix.Iovec{Base: &b[0], Len: uint64(len(b))})
		}
		n, err = sys.Writev(fd, iov)
		clear(iov) // drop the references to the segments' bytes
	}
	switch err {
	case nil:
	case unix.EAGAIN:
		return 0, true, nil
	case unix.EINTR:
		return 0, false, nil
	default:
		return 0, false, os.NewSyscallError("writev", err)
	}
	p.consume(q, n)
	return n, n < want, nil
}

// consume drops the first n queued bytes, returning emptied chunks to the pool.
func (p *OutPool) consume(q *OutQueue, n int) {
	for n > 0 && q.head < len(q.segs) {
		s := &q.segs[q.head]
		if n < len(s.b) {
			s.b = s.b[n:]
			return
		}
		n -= len(s.b)
		p.PutChunk(s.c)
		*s = seg{}
		q.head++
	}
	for q.head < len(q.segs) && len(q.segs[q.head].b) == 0 {
		p.PutChunk(q.segs[q.head].c)
		q.segs[q.head] = seg{}
		q.head++
	}
	if q.head == len(q.segs) {
		q.segs = q.segs[:0]
		q.head = 0
	} else if q.head >= 64 && q.head*2 >= len(q.segs) {
		k := copy(q.segs, q.segs[q.head:])
		clear(q.segs[k:])
		q.segs = q.segs[:k]
		q.head = 0
	}
}
