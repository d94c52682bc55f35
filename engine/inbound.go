package engine

// Inbound carry: a connection owns a carry buffer only while Handler.OnData has left bytes
// unconsumed. Buffers come from a per-loop free list and go back to it when the carry empties.

const (
	carryBufBytes = 4 << 10 // size of a pooled carry buffer; a carry grows past it by append
	carryPoolMax  = 256     // pooled carry buffers kept per loop
	carryPoolLow  = 16      // each tick the pool sheds half its buffers above this
)

// inbound is one connection's carried bytes.
type inbound struct {
	b     []byte
	plain int32 // TLS conns: b[:plain] is plaintext OnData left, b[plain:] an incomplete record
}

// inPool is the loop's side pool of carry buffers, named by int32 index from slot.in.
type inPool struct {
	ins  []inbound
	free []int32 // free indexes into ins
	bufs [][]byte
}

// get returns the index+1 of a fresh, empty carry.
func (p *inPool) get() int32 {
	var i int32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		p.ins = append(p.ins, inbound{})
		i = int32(len(p.ins) - 1)
	}
	if n := len(p.bufs); n > 0 {
		p.ins[i].b = p.bufs[n-1][:0]
		p.bufs[n-1] = nil
		p.bufs = p.bufs[:n-1]
	} else {
		p.ins[i].b = make([]byte, 0, carryBufBytes)
	}
	return i + 1
}

// at returns the carry named by idx (index+1).
func (p *inPool) at(idx int32) *inbound { return &p.ins[idx-1] }

// put returns the carry named by idx (index+1) and its buffer to the pool.
func (p *inPool) put(idx int32) {
	in := &p.ins[idx-1]
	if cap(in.b) == carryBufBytes && len(p.bufs) < carryPoolMax {
		p.bufs = append(p.bufs, in.b[:0])
	}
	in.b, in.plain = nil, 0
	p.free = append(p.free, idx-1)
}

// trim sheds half the pooled buffers above carryPoolLow (called every tick).
func (p *inPool) trim() {
	if n := len(p.bufs); n > carryPoolLow {
		keep := carryPoolLow + (n-carryPoolLow)/2
		clear(p.bufs[keep:])
		p.bufs = p.bufs[:keep]
	}
}
