package connbuf

// Inbound carry: a connection owns a carry buffer only while Handler.OnData has left bytes
// unconsumed. Buffers come from a per-loop free list and go back to it when the carry empties.

const (
	carryBufBytes = 4 << 10 // size of a pooled carry buffer; a carry grows past it by append
	carryPoolMax  = 256     // pooled carry buffers kept per loop
	carryPoolLow  = 16      // each tick the pool sheds half its buffers above this
)

// Carry is one connection's carried bytes.
type Carry struct {
	B     []byte
	Plain int32 // TLS conns: B[:Plain] is plaintext OnData left, B[Plain:] an incomplete record
}

// InPool is a loop's side pool of carry buffers, named by int32 index (the engine keeps it in
// slot.in). Only the loop touches it.
type InPool struct {
	ins  []Carry
	free []int32 // free indexes into ins
	bufs [][]byte
}

// Get returns the index+1 of a fresh, empty carry.
func (p *InPool) Get() int32 {
	var i int32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		p.ins = append(p.ins, Carry{})
		i = int32(len(p.ins) - 1)
	}
	if n := len(p.bufs); n > 0 {
		p.ins[i].B = p.bufs[n-1][:0]
		p.bufs[n-1] = nil
		p.bufs = p.bufs[:n-1]
	} else {
		p.ins[i].B = make([]byte, 0, carryBufBytes)
	}
	return i + 1
}

// At returns the carry named by idx (index+1).
func (p *InPool) At(idx int32) *Carry { return &p.ins[idx-1] }

// Put returns the carry named by idx (index+1) and its buffer to the pool.
func (p *InPool) Put(idx int32) {
	in := &p.ins[idx-1]
	if cap(in.B) == carryBufBytes && len(p.bufs) < carryPoolMax {
		p.bufs = append(p.bufs, in.B[:0])
	}
	in.B, in.Plain = nil, 0
	p.free = append(p.free, idx-1)
}

// Trim sheds half the pooled buffers above carryPoolLow (called every tick).
func (p *InPool) Trim() {
	if n := len(p.bufs); n > carryPoolLow {
		keep := carryPoolLow + (n-carryPoolLow)/2
		clear(p.bufs[keep:])
		p.bufs = p.bufs[:keep]
	}
}
