package engine

// slot is one connection's loop-owned state. It holds no Go pointers, so a slab of a million
// slots is a single noscan allocation the garbage collector never looks into; buffers live in
// side pools (inbound.go, outbound.go) that the slot names by int32 index, and only while the
// connection has bytes in them.
type slot struct {
	fd      int32  // socket; -1 when the slot is free
	gen     uint32 // generation: bumped on every free, never 0 for a live conn
	flags   uint32 // flag* bits
	pending int32  // outbound bytes queued and not yet written
	in      int32  // index+1 into loop.ins (carried inbound bytes); 0 = none
	out     int32  // index+1 into loop.outs (outbound queue); 0 = none
	next    int32  // free-list link while free; -1 ends the list
	_       int32
}

const (
	flagOpen       uint32 = 1 << iota // slot holds a live connection
	flagDirty                         // on loop.dirty, to be flushed at the end of the iteration
	flagBlocked                       // the kernel send buffer was full: wait for EPOLLOUT
	flagRegIn                         // EPOLLIN|EPOLLRDHUP is in the epoll interest set
	flagRegOut                        // EPOLLOUT is in the epoll interest set
	flagReadClosed                    // no more reading: peer sent FIN or CloseAfterFlush was called
	flagPeerEOF                       // the peer sent FIN: close with io.EOF once output is flushed
	flagCloseAfter                    // CloseAfterFlush: close with a nil error once output is flushed
	flagSlow                          // went over WriteBufferLimit: closed with ErrSlowConsumer at flush
	flagLinger                        // CloseAfterFlush done writing: write side shut, draining input until EOF
	flagPaused                        // pending output went over the high-water mark: not read until it drains (backpressure.go)
	flagRegHup                        // only EPOLLRDHUP is in the epoll interest set (reading paused)
	flagPeerHup                       // the peer's FIN was seen while reading was paused: stop watching for it
	flagResume                        // on loop.resumes: OnData is to run again with the carry
)

// slab is a loop's table of connection slots with a LIFO free list (a freed slot is reused
// first, while its cache line is warm).
type slab struct {
	slots []slot
	free  int32 // head of the free list; -1 when empty
}

func newSlab() slab { return slab{free: -1} }

// alloc takes a free slot for fd and returns its index, or -1 if the table is full.
func (s *slab) alloc(fd int) int32 {
	var i int32
	if s.free >= 0 {
		i = s.free
		s.free = s.slots[i].next
	} else {
		if len(s.slots) >= maxSlots {
			return -1
		}
		i = int32(len(s.slots))
		s.slots = append(s.slots, slot{gen: 1})
	}
	c := &s.slots[i]
	c.fd = int32(fd)
	c.flags = flagOpen
	c.pending, c.in, c.out, c.next = 0, 0, 0, -1
	return i
}

// release frees slot i; its generation moves on so every Handle to it goes stale.
func (s *slab) release(i int32) {
	c := &s.slots[i]
	c.fd = -1
	c.flags = 0
	c.gen++
	if c.gen == 0 {
		c.gen = 1
	}
	c.next = s.free
	s.free = i
}

// lookup returns the live slot h names, or nil if h is stale or was never valid.
func (s *slab) lookup(h Handle) (*slot, int32) {
	i := int32(h.Slot())
	if int(i) >= len(s.slots) {
		return nil, -1
	}
	c := &s.slots[i]
	if c.gen != h.gen() || c.flags&flagOpen == 0 {
		return nil, -1
	}
	return c, i
}
