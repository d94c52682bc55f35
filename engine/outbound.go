package engine

import (
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
	maxIovecs    = 1024    // IOV_MAX
)

// seg is one queued run of bytes: b is what is left to write. c is the owned chunk b lies in
// (nil for a reference); the spare room after b, b[len(b):cap(b)], takes later Writes.
type seg struct {
	b []byte
	c []byte
}

// outQueue is one connection's pending output.
type outQueue struct {
	segs []seg
	head int // segs[:head] are written and cleared
}

// outPool is the loop's side pool of outbound queues (named by int32 index from slot.out) and
// of chunks.
type outPool struct {
	outs   []outQueue
	free   []int32
	chunks [][]byte
	iov    []unix.Iovec // writev scratch, maxIovecs long
	arena  arena        // this iteration's Write copies (arena.go)
}

func (p *outPool) get() int32 {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		return i + 1
	}
	p.outs = append(p.outs, outQueue{})
	return int32(len(p.outs))
}

func (p *outPool) at(idx int32) *outQueue { return &p.outs[idx-1] }

// put releases queue idx (index+1), returning any chunks it still holds to the pool; the
// queue keeps its segs capacity for its next user.
func (p *outPool) put(idx int32) {
	q := &p.outs[idx-1]
	for i := q.head; i < len(q.segs); i++ {
		p.putChunk(q.segs[i].c)
	}
	clear(q.segs)
	q.segs = q.segs[:0]
	q.head = 0
	p.free = append(p.free, idx-1)
}

// chunk returns an empty owned buffer able to hold n bytes: a pooled chunk when n fits.
func (p *outPool) chunk(n int) []byte {
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

func (p *outPool) putChunk(c []byte) {
	if cap(c) == chunkBytes && len(p.chunks) < chunkPoolMax {
		p.chunks = append(p.chunks, c[:0])
	}
}

// trim sheds half the pooled chunks above chunkPoolLow, and idle arena blocks, so a burst's
// buffers go back to the collector within a few ticks once the loop is idle.
func (p *outPool) trim() {
	p.arena.trim()
	if n := len(p.chunks); n > chunkPoolLow {
		keep := chunkPoolLow + (n-chunkPoolLow)/2
		clear(p.chunks[keep:])
		p.chunks = p.chunks[:keep]
	}
}

// appendCopy queues a copy of b, filling the spare room of the last owned chunk first.
func (p *outPool) appendCopy(q *outQueue, b []byte) {
	if n := len(q.segs); n > q.head {
		last := &q.segs[n-1]
		if last.c != nil && len(last.b) < cap(last.b) {
			k := copy(last.b[len(last.b):cap(last.b)], b)
			last.b = last.b[:len(last.b)+k]
			b = b[k:]
		}
	}
	for len(b) > 0 {
		c := p.chunk(len(b))
		k := copy(c[:cap(c)], b)
		q.segs = append(q.segs, seg{b: c[:k], c: c})
		b = b[k:]
	}
}

// appendRef queues b by reference.
func (q *outQueue) appendRef(b []byte) {
	q.segs = append(q.segs, seg{b: b})
}

// hasRefs reports whether any queued segment still references a caller's bytes.
func (q *outQueue) hasRefs() bool {
	for i := q.head; i < len(q.segs); i++ {
		if q.segs[i].c == nil {
			return true
		}
	}
	return false
}

// ownRefs copies every still-referenced segment into owned buffers so the callers' bytes may
// be reused after the flush. Copies are packed into the spare room of the preceding owned
// chunk, so a thousand small referenced frames become a few chunks, not a thousand. The
// queue is rewritten in place: each input segment yields at most one new output segment, so
// the write index never passes the read index.
func (p *outPool) ownRefs(q *outQueue) {
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
			c := append(p.chunk(len(b)), b...)
			q.segs[w] = seg{b: c, c: c}
			w++
		}
	}
	clear(q.segs[w:])
	q.segs = q.segs[:w]
}

// writeTo writes as much of q as one write or writev call takes (at most maxIovecs
// segments) and drops what was written. It returns the bytes written and whether the kernel
// send buffer is full (EAGAIN or a short write); EAGAIN is not an error.
func (p *outPool) writeTo(fd int, q *outQueue) (n int, full bool, err error) {
	var want int
	if len(q.segs)-q.head == 1 {
		b := q.segs[q.head].b
		want = len(b)
		n, err = rawWrite(fd, b)
	} else {
		iov := p.iov[:0]
		for i := q.head; i < len(q.segs) && len(iov) < maxIovecs; i++ {
			b := q.segs[i].b
			if len(b) == 0 {
				continue
			}
			want += len(b)
			iov = append(iov, unix.Iovec{Base: &b[0], Len: uint64(len(b))})
		}
		n, err = writev(fd, iov)
		clear(iov) // drop the references to the segments' bytes
	}
	switch err {
	case nil:
	case unix.EAGAIN:
		return 0, true, nil
	case unix.EINTR:
		return 0, false, nil
	default:
		return 0, false, wrapSyscall("writev", err)
	}
	p.consume(q, n)
	return n, n < want, nil
}

// consume drops the first n queued bytes, returning emptied chunks to the pool.
func (p *outPool) consume(q *outQueue, n int) {
	for n > 0 && q.head < len(q.segs) {
		s := &q.segs[q.head]
		if n < len(s.b) {
			s.b = s.b[n:]
			return
		}
		n -= len(s.b)
		p.putChunk(s.c)
		*s = seg{}
		q.head++
	}
	for q.head < len(q.segs) && len(q.segs[q.head].b) == 0 {
		p.putChunk(q.segs[q.head].c)
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
