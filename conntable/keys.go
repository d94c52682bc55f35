package conntable

import "sync/atomic"

// Keys is a conn-key index of one engine loop. A conn key names a
// subscriber (Sub: a connection's slot, or a stream record) and carries 128
// random bits; Keys holds, per slot (or per stream record: a loop keeps one
// Keys for each kind), the subscriber and the random bits of the key issued
// there. Looking a
// key up is reading one slot and comparing: no hash map, 24 bytes a
// connection, no Go pointers in the records.
//
// The owning loop writes (Set, Clear); any goroutine may Match. Each word is
// read and written atomically, so a Match racing a Clear and a Set of the
// same slot may see a mix of old and new words, and that mix never matches:
// a reused slot gets a new handle (its generation changes) and new random
// bits, so a match means the slot held exactly that key.
type Keys struct {
	pages atomic.Pointer[[]*keyPage] // replaced, never changed in place, when it grows
}

type keySlot struct{ h, r0, r1 atomic.Uint64 }

const keyPageLen = 256

type keyPage [keyPageLen]keySlot

// Set records that slot holds subscriber h under a key with the random bits r.
// Only the owning loop may call it.
func (k *Keys) Set(slot int, h Sub, r [2]uint64) {
	ks := k.grow(slot)
	ks.r0.Store(r[0])
	ks.r1.Store(r[1])
	ks.h.Store(uint64(h)) // last: a reader that sees h also sees its bits
}

// Clear forgets the key of slot. Only the owning loop may call it.
func (k *Keys) Clear(slot int) {
	if ks := k.at(slot); ks != nil {
		ks.h.Store(0) // first: no reader matches from here on
		ks.r0.Store(0)
		ks.r1.Store(0)
	}
}

// Match reports whether slot holds subscriber h under a key with random bits r.
// Any goroutine may call it.
func (k *Keys) Match(slot int, h Sub, r [2]uint64) bool {
	ks := k.at(slot)
	return ks != nil && h != 0 && ks.h.Load() == uint64(h) && ks.r0.Load() == r[0] && ks.r1.Load() == r[1]
}

// Random returns the random bits of slot's key. Only the owning loop may
// call it (others would read a key being replaced).
func (k *Keys) Random(slot int) [2]uint64 {
	if ks := k.at(slot); ks != nil {
		return [2]uint64{ks.r0.Load(), ks.r1.Load()}
	}
	return [2]uint64{}
}

func (k *Keys) at(slot int) *keySlot {
	pages := k.pages.Load()
	if slot < 0 || pages == nil || slot/keyPageLen >= len(*pages) {
		return nil
	}
	return &(*pages)[slot/keyPageLen][slot%keyPageLen]
}

// grow adds pages until slot exists; pages never move, so readers holding
// the old list still read the same records.
func (k *Keys) grow(slot int) *keySlot {
	if ks := k.at(slot); ks != nil {
		return ks
	}
	var pages []*keyPage
	if old := k.pages.Load(); old != nil {
		pages = append(pages, *old...)
	}
	for slot/keyPageLen >= len(pages) {
		pages = append(pages, new(keyPage))
	}
	k.pages.Store(&pages)
	return &pages[slot/keyPageLen][slot%keyPageLen]
}
