package conntable

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestArenaModel adds and removes entries of random kinds and lengths
// (empty, short, around a page, several pages) and reads every live one
// back after each step, through a compaction into fresh pages every 500
// steps; offsets must keep their place in a page below arenaPage.
func TestArenaModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	type live struct {
		off  uint32
		g    Group
		name []byte
	}
	var a arena
	var lives []live
	dead := 0
	for step := range 4000 {
		if len(lives) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(lives))
			if rng.IntN(2) == 0 {
				i = len(lives) - 1 // the newest: its bytes come back at once
			}
			dead += a.remove(lives[i].off)
			lives = append(lives[:i], lives[i+1:]...)
		} else {
			n := []int{0, 1, 15, 300, arenaPage - 2, arenaPage, arenaPage + 1, 3000}[rng.IntN(8)]
			name := make([]byte, n)
			for j := range name {
				name[j] = byte(rng.IntN(256))
			}
			g := Group(rng.IntN(2))
			lives = append(lives, live{a.add(g, name), g, name})
		}
		if step%500 == 499 {
			var fresh arena
			for i := range lives {
				lives[i].off = fresh.add(lives[i].g, lives[i].name)
			}
			a, dead = fresh, 0
		}
		size := dead
		for _, l := range lives {
			name, g, n := a.entry(l.off)
			if g != l.g || !bytes.Equal(name, l.name) {
				t.Fatalf("step %d: entry at %#x = kind %d, %d bytes; want kind %d, %d bytes", step, l.off, g, len(name), l.g, len(l.name))
			}
			size += n
		}
		if a.size != size {
			t.Fatalf("step %d: arena size %d; want %d (live entries and dead bytes)", step, a.size, size)
		}
	}
}
