package conntable

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// Keys is a conn-key index of one engine loop. A conn key names a
// subscriber (Sub: a connection's slot, or a stream record) and carries 128
// random bits; Keys holds, per slot (or per stream record: a loop keeps one
// Keys for each kind), two words made of the key issued there: its first
// random word XORed with the subscriber, and its second random word. Looking
// a key up is reading one slot and comparing: no hash map, 16 bytes a
// connection, no Go pointers in the records.
//
// A slot without a key holds the Keys' blank words, 128 bits drawn from
// crypto/rand when the first page is made and never shown to anyone, so no key
// text can name an empty slot. A key of another subscriber (another
// generation of the slot) gives another first word; one whose bits were
// guessed misses in the second.
//
// The owning loop writes (Set, Clear); any goroutine may Match. Each word is
// read and written atomically, so a Match racing a Clear and a Set of the
// same slot may see one word of the old key (or the blank) and one of the
// new. Such a mix matches a key only if a random word of one key equals the
// same word of another (or of the blank): a chance of 2^-64, not a guessable
// one.
type Keys struct {
	pages atomic.Pointer[[]*keyPage] // replaced, never changed in place, when it grows
	blank [2]uint64                  // what a slot without a key holds; set before the first page is published
}

type keySlot struct{ w0, w1 atomic.Uint64 }

const keyPageLen = 256 // 4 KiB pages

type keyPage [keyPageLen]keySlot

// Set records that slot holds subscriber h under a key with the random bits r.
// Only the owning loop may call it.
func (k *Keys) Set(slot int, h Sub, r [2]uint64) {
	ks := k.grow(slot)
	ks.w0.Store(r[0] ^ uint64(h))
	ks.w1.Store(r[1])
}

// Clear forgets the key of slot. Only the owning loop may call it.
func (k *Keys) Clear(slot int) {
	if ks := k.at(slot); ks != nil {
		ks.w0.Store(k.blank[0]) // first: no reader matches from here on
		ks.w1.Store(k.blank[1])
	}
}

// Match reports whether slot holds subscriber h under a key with random bits r.
// Any goroutine may call it.
func (k *Keys) Match(slot int, h Sub, r [2]uint64) bool {
	ks := k.at(slot)
	return ks != nil && h != 0 && ks.w0.Load() == r[0]^uint64(h) && ks.w1.Load() == r[1]
}

// Random returns the random bits of slot's key, which subscriber h holds.
// Only the owning loop may call it (others would read a key being replaced).
func (k *Keys) Random(slot int, h Sub) [2]uint64 {
	if ks := k.at(slot); ks != nil {
		return [2]uint64{ks.w0.Load() ^ uint64(h), ks.w1.Load()}
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

// grow adds pages, blank, until slot exists; pages never move, so readers
// holding the old list still read the same records.
func (k *Keys) grow(slot int) *keySlot {
	if ks := k.at(slot); ks != nil {
		return ks
	}
	var pages []*keyPage
	if old := k.pages.Load(); old != nil {
		pages = append(pages, *old...)
	} else {
		k.blank = randomBlank()
	}
	for slot/keyPageLen >= len(pages) {
		p := new(keyPage)
		for i := range p {
			p[i].w0.Store(k.blank[0])
			p[i].w1.Store(k.blank[1])
		}
		pages = append(pages, p)
	}
	k.pages.Store(&pages) // publishes blank with the first pages
	return &pages[slot/keyPageLen][slot%keyPageLen]
}

// randomBlank draws the blank words of a Keys.
func randomBlank() [2]uint64 {
	var b [16]byte
	rand.Read(b[:]) // never returns an error: it crashes the program instead
	return [2]uint64{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
}
