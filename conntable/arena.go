package conntable

import (
	"encoding/binary"
	"math"
)

// arena holds a shard's group names, each as an entry: uvarint(len(name)<<1 |
// kind) followed by the name. Entries sit in 1 KiB pages that are filled and
// never grown, so a storm of new names allocates one page per ~60 names and
// copies nothing: an arena grown by append copied itself at every growth,
// and those dead copies (~35 B per new user in a connect storm) were heap the
// collector had yet to reclaim. An entry never straddles two pages; one
// longer than a page gets a page of its own size.
//
// An entry's offset is its page index << arenaPageBits | its place in the
// page. mu of the shard must be held for everything here.
type arena struct {
	pages [][]byte
	size  int // bytes in pages, dead or alive
}

const (
	arenaPageBits = 10
	arenaPage     = 1 << arenaPageBits
	kindBits      = 1 // numGroups fits in one bit
)

// add appends the entry of (g, name) and returns its offset.
func (a *arena) add(g Group, name []byte) uint32 {
	var head [binary.MaxVarintLen64]byte
	prefix := binary.AppendUvarint(head[:0], uint64(len(name))<<kindBits|uint64(g))
	n := len(prefix) + len(name)
	last := len(a.pages) - 1
	// An offset's place in its page has arenaPageBits: a page of its own
	// (longer than arenaPage) takes further entries only below that.
	if last < 0 || len(a.pages[last])+n > cap(a.pages[last]) || len(a.pages[last]) >= arenaPage {
		if len(a.pages) >= math.MaxUint32>>arenaPageBits {
			panic("conntable: more than 4 GiB of names in one shard")
		}
		a.pages = append(a.pages, make([]byte, 0, max(arenaPage, n)))
		last++
	}
	p := a.pages[last]
	off := uint32(last)<<arenaPageBits | uint32(len(p))
	a.pages[last] = append(append(p, prefix...), name...)
	a.size += n
	return off
}

// entry returns the name at off, valid until the arena is next compacted,
// its kind and the entry's length.
func (a *arena) entry(off uint32) (name []byte, g Group, n int) {
	p := a.pages[off>>arenaPageBits][off&(arenaPage-1):]
	v, k := binary.Uvarint(p)
	size := int(v >> kindBits)
	return p[k : k+size], Group(v & (1<<kindBits - 1)), k + size
}

// remove gives back the entry at off: at once when it is the newest entry,
// else its bytes stay dead until compact. It returns the bytes left dead.
func (a *arena) remove(off uint32) int {
	_, _, n := a.entry(off)
	last := len(a.pages) - 1
	if int(off>>arenaPageBits) == last && int(off&(arenaPage-1))+n == len(a.pages[last]) {
		a.pages[last] = a.pages[last][:off&(arenaPage-1)]
		a.size -= n
		return 0
	}
	return n
}
