package conntable

import (
	"sync"
	"testing"
)

func TestKeysMatchOnlyTheKeyIssued(t *testing.T) {
	var k Keys
	r := [2]uint64{0x1111, 0x2222}
	if k.Match(5, 7, r) {
		t.Fatal("Match on an empty table = true; want false")
	}
	k.Set(5, 7, r)
	k.Set(700, 9, [2]uint64{1, 2}) // grows past the first page
	for _, c := range []struct {
		slot int
		h    Sub
		r    [2]uint64
		want bool
	}{
		{5, 7, r, true},
		{5, 8, r, false},                         // another generation
		{5, 7, [2]uint64{0x1111, 0x2223}, false}, // guessed bits
		{6, 7, r, false},                         // another slot
		{700, 9, [2]uint64{1, 2}, true},
		{-1, 7, r, false},
		{1 << 20, 7, r, false},
	} {
		if got := k.Match(c.slot, c.h, c.r); got != c.want {
			t.Errorf("Match(%d, %d, %x) = %v; want %v", c.slot, c.h, c.r, got, c.want)
		}
	}
	if got := k.Random(5, 7); got != r {
		t.Errorf("Random(5, 7) = %x; want %x", got, r)
	}
	k.Clear(5)
	if k.Match(5, 7, r) {
		t.Error("Match after Clear = true; want false")
	}
	if k.Match(5, 0, [2]uint64{}) {
		t.Error("Match of the zero key on a cleared slot = true; want false")
	}
}

// TestKeysNoKeyNamesAnEmptySlot forges the keys whose words would be those of
// an all-zero slot, for a slot cleared and for one never set in a page that
// exists: none may match, since an empty slot holds random blank words.
func TestKeysNoKeyNamesAnEmptySlot(t *testing.T) {
	var k Keys
	k.Set(3, 1<<32|3, [2]uint64{0xaaaa, 0xbbbb})
	k.Clear(3)
	for _, slot := range []int{3, 4, 255} {
		h := Sub(1<<32 | slot)
		for _, r := range [][2]uint64{{uint64(h), 0}, {0, 0}, {^uint64(0), ^uint64(0)}, {0xaaaa, 0xbbbb}} {
			if k.Match(slot, h, r) {
				t.Errorf("Match(%d, %#x, %x) on an empty slot = true; want false", slot, h, r)
			}
		}
	}
	var other Keys
	other.Set(0, 1, [2]uint64{1, 2})
	if k.blank == other.blank || k.blank == ([2]uint64{}) {
		t.Errorf("blank words %x and %x: want two random draws", k.blank, other.blank)
	}
}

// TestKeysMatchWhileTheOwnerWrites runs readers against a writer that keeps
// reusing slots: under -race this proves the atomics, and no reader may ever
// match a key that is no longer the slot's.
func TestKeysMatchWhileTheOwnerWrites(t *testing.T) {
	var k Keys
	const slots = 600
	for s := range slots {
		k.Set(s, Sub(s)|1<<32, [2]uint64{1, uint64(s)})
		k.Clear(s)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for s := range slots {
					// Generation 1 keys are cleared for good before the
					// readers start; none may match.
					if k.Match(s, Sub(s)|1<<32, [2]uint64{1, uint64(s)}) {
						t.Errorf("slot %d matched a cleared key", s)
						return
					}
				}
			}
		}()
	}
	for gen := uint64(2); gen < 200; gen++ {
		for s := range slots {
			k.Set(s, Sub(s)|Sub(gen)<<32, [2]uint64{gen, uint64(s)})
			k.Clear(s)
		}
	}
	close(stop)
	wg.Wait()
}
