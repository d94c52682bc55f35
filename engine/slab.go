package engine

// slot is one connection's loop-owned state. It holds no Go pointers, so a slab of a million
// slots is a single noscan allocation the garbage collector never looks into; buffers live in
// side pools (package connbuf: InPool, OutPool) that the slot names by int32 index, and only while the
// connection has bytes in them.
type slot struct {
	fd      int32  // socket; -1 when the slot is free
	gen     uint32 // generation: bumped on every free, never 0 for a live conn
	flags   uint32 // flag* bits
	pending int32  // outbound bytes queued and not yet written
	in      int32  // index+1 into Loop.in (connbuf.InPool: carried inbound bytes); 0 = none
	out     int32  // index+1 into Loop.out (connbuf.OutPool: outbound queue); 0 = none
	next    int32  // free-list link while free; -1 ends the list
	tls     int32  // index+1 into Loop.tls (tlsconn.Table: TLS state); 0 = a plaintext conn
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
	flagBurst                         // its output had all gone out when this iteration first wrote to it: it may take a burst (backpressure.go)
)

// slab is a loop's table of connection slots with a LIFO free list (a freed slot is reused
// first, while its cache line is warm). Slots live in fixed pages that never move, so the
// table grows without copying and wastes at most one page, where append doubling kept up
// to twice the slots it needed (and left the old array as garbage) after a connect storm.
type slab struct {
	pages [][]slot
	n     int32 // slots handed out so far; indexes below n are valid
	free  int32 // head of the free list; -1 when empty
}

const (
	slabPageBits = 8
	slabPageLen  = 1 << slabPageBits
)

// at returns slot i; i must be below s.n.
func (s *slab) at(i int32) *slot {
	return &s.pages[i>>slabPageBits][i&(slabPageLen-1)]
}

func newSlab() slab { return slab{free: -1} }

// alloc takes a free slot for fd and returns its index, or -1 if the table is full.
func (s *slab) alloc(fd int) int32 {
	var i int32
	if s.free >= 0 {
		i = s.free
		s.free = s.at(i).next
	} else {
		if int(s.n) >= maxSlots {
			return -1
		}
		i = s.n
		if int(i>>slabPageBits) == len(s.pages) {
			s.pages = append(s.pages, make([]slot, slabPageLen))
		}
		s.n++
		s.at(i).gen = 1
	}
	c := s.at(i)
	c.fd = int32(fd)
	c.flags = flagOpen
	c.pending, c.in, c.out, c.next, c.tls = 0, 0, 0, -1, 0
	return i
}

// release frees slot i; its generation moves on so every Handle to it goes stale.
func (s *slab) release(i int32) {
	c := s.at(i)
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
	if i >= s.n {
		return nil, -1
	}
	c := s.at(i)
	if c.gen != h.gen() || c.flags&flagOpen == 0 {
		return nil, -1
	}
	return c, i
}
