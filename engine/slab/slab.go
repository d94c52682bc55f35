// Package slab is an event loop's table of connection slots. A slot holds no Go pointers, so
// a table of a million slots is a few noscan allocations the garbage collector never looks
// into (BenchmarkGC); buffers and TLS state live in side pools (packages connbuf and
// tlsconn) that a slot names by int32 index, and only while the connection uses them.
//
// The table hands slots out and takes them back and keeps each slot's generation, so that
// a handle (index + generation) to a freed slot never names the next connection in it. What
// the fields mean while a connection holds the slot — its flags above Open, its pending
// bytes, its buffers — is the engine's. A Table belongs to one loop and only that loop's
// goroutine touches it: nothing here locks. Only the engine imports it.
package slab

// Slot is one connection's loop-owned state.
type Slot struct {
	FD      int32  // socket; -1 when the slot is free
	Gen     uint32 // generation: bumped on every free, never 0 for a live conn
	Flags   uint32 // Open, and the engine's flag bits above it
	Pending int32  // outbound bytes queued and not yet written
	In      int32  // index+1 into the loop's connbuf.InPool (carried inbound bytes); 0 = none
	Out     int32  // index+1 into the loop's connbuf.OutPool (outbound queue); 0 = none
	next    int32  // free-list link while free; -1 ends the list
	TLS     int32  // index+1 into the loop's tlsconn.Table; 0 = a plaintext conn
}

// Open is the Flags bit of a slot that holds a live connection; the engine's own bits are
// the ones above it. Alloc sets only it, Release clears every bit.
const Open uint32 = 1

// Table is a loop's slots with a LIFO free list (a freed slot is reused first, while its
// cache line is warm). Slots live in fixed pages that never move, so the table grows without
// copying and wastes at most one page, where append doubling kept up to twice the slots it
// needed (and left the old array as garbage) after a connect storm.
type Table struct {
	pages [][]Slot
	n     int32 // slots handed out so far; indexes below n are valid
	free  int32 // head of the free list; -1 when empty
	max   int32
}

const (
	pageBits = 8
	pageLen  = 1 << pageBits
)

// New returns an empty table of at most max slots.
func New(max int) Table { return Table{free: -1, max: int32(max)} }

// Len returns how many slots were ever handed out: every index below it is valid for At.
func (s *Table) Len() int32 { return s.n }

// At returns slot i; i must be below Len.
func (s *Table) At(i int32) *Slot {
	return &s.pages[i>>pageBits][i&(pageLen-1)]
}

// Alloc takes a free slot for fd and returns its index, or -1 if the table is full.
func (s *Table) Alloc(fd int) int32 {
	var i int32
	if s.free >= 0 {
		i = s.free
		s.free = s.At(i).next
	} else {
		if s.n >= s.max {
			return -1
		}
		i = s.n
		s.grow()
		s.At(i).Gen = 1
	}
	s.At(i).take(fd, s.At(i).Gen)
	return i
}

// grow adds slot n, in a new page when the last is full.
func (s *Table) grow() {
	if int(s.n>>pageBits) == len(s.pages) {
		s.pages = append(s.pages, make([]Slot, pageLen))
	}
	s.n++
}

// take sets a slot up for a new connection on fd.
func (c *Slot) take(fd int, gen uint32) {
	c.FD, c.Gen, c.Flags = int32(fd), gen, Open
	c.Pending, c.In, c.Out, c.next, c.TLS = 0, 0, 0, -1, 0
}

// AllocAt takes slot i, which must be free, for fd with generation gen (a handle adopted
// from another process). Slots below i that were never handed out join the free list.
func (s *Table) AllocAt(i int32, gen uint32, fd int) bool {
	if i < 0 || i >= s.max {
		return false
	}
	if i >= s.n {
		for s.n <= i {
			j := s.n
			s.grow()
			c := s.At(j)
			c.Gen, c.FD, c.Flags = 1, -1, 0
			if j < i {
				c.next = s.free
				s.free = j
			}
		}
	} else {
		c := s.At(i)
		if c.Flags&Open != 0 {
			return false
		}
		// Unlink i from the free list (rare: handed-over slots come in increasing order).
		for p := &s.free; *p >= 0; p = &s.At(*p).next {
			if *p == i {
				*p = c.next
				break
			}
		}
	}
	s.At(i).take(fd, gen)
	return true
}

// Release frees slot i; its generation moves on so every handle to it goes stale.
func (s *Table) Release(i int32) {
	c := s.At(i)
	c.FD = -1
	c.Flags = 0
	c.Gen++
	if c.Gen == 0 {
		c.Gen = 1
	}
	c.next = s.free
	s.free = i
}

// Lookup returns slot i if it holds a live connection of generation gen, or nil.
func (s *Table) Lookup(i int32, gen uint32) (*Slot, int32) {
	if i >= s.n {
		return nil, -1
	}
	c := s.At(i)
	if c.Gen != gen || c.Flags&Open == 0 {
		return nil, -1
	}
	return c, i
}
