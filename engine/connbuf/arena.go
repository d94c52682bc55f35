package connbuf

// Write arena: the engine's Loop.Write copies small writes into per-loop blocks instead of a chunk of the
// conn's own, and queues them by reference, like WriteRef. The bytes stay put until the end
// of the iteration's flush, which writes them; only what the kernel does not take is copied
// into a chunk the conn owns (OutPool.ownRefs), and then the arena is rewound. So a response
// that is written out at once, the common case, never takes a 4 KiB chunk: in a connect storm
// the answers of a whole epoll batch share a few 64 KiB blocks instead of a chunk each.

const (
	arenaBlockBytes = 64 << 10 // one arena block
	ArenaMaxWrite   = 16 << 10 // larger writes go straight into the conn's own buffers (AppendCopy)
	arenaBlocksLow  = 1        // each tick the arena sheds half its idle blocks above this
)

// arena is a loop's write arena: blocks[:cur+1] hold this iteration's bytes.
type arena struct {
	blocks [][]byte // each arenaBlockBytes long; len is the bytes in use
	cur    int      // block being filled
}

// AppendArena queues a copy of b in q, in the arena. A copy that directly follows q's last
// segment in the arena (consecutive Writes to one conn, such as a response head and its first
// frame) extends that segment.
func (p *OutPool) AppendArena(q *OutQueue, b []byte) {
	a := &p.arena
	for len(b) > 0 {
		if a.cur == len(a.blocks) {
			a.blocks = append(a.blocks, make([]byte, 0, arenaBlockBytes))
		}
		blk := a.blocks[a.cur]
		start := len(blk)
		k := min(cap(blk)-start, len(b))
		if k == 0 {
			a.cur++
			continue
		}
		blk = append(blk, b[:k]...) // within cap: the block never moves
		a.blocks[a.cur] = blk
		b = b[k:]
		if n := len(q.segs); n > q.head && start > 0 {
			last := &q.segs[n-1]
			if m := len(last.b); last.c == nil && m > 0 && m <= start && &last.b[m-1] == &blk[start-1] {
				last.b = blk[start-m : start+k : start+k]
				continue
			}
		}
		q.segs = append(q.segs, seg{b: blk[start : start+k : start+k]})
	}
}

// Rewind empties the arena after the flush, once every queue still pending owns its bytes
// (OwnRefs): no queue refers to it any more.
func (p *OutPool) Rewind() { p.arena.rewind() }

// rewind empties the arena.
func (a *arena) rewind() {
	for i := 0; i <= a.cur && i < len(a.blocks); i++ {
		a.blocks[i] = a.blocks[i][:0]
	}
	a.cur = 0
}

// trim sheds half the blocks above arenaBlocksLow that this iteration has not used, so that a
// burst's blocks go back to the collector within a few idle ticks.
func (a *arena) trim() {
	n := len(a.blocks)
	keep := max(a.cur+1, arenaBlocksLow+(n-arenaBlocksLow)/2)
	if keep < n {
		clear(a.blocks[keep:])
		a.blocks = a.blocks[:keep]
	}
}
