package slab

import (
	"runtime"
	"testing"
)

// TestSlabAllocAt: adopted slots are taken exactly, gaps join the free list, a taken slot
// is refused.
func TestSlabAllocAt(t *testing.T) {
	s := New(1 << 24)
	if !s.AllocAt(5, 9, 100) || !s.AllocAt(2, 3, 101) {
		t.Fatal("allocAt on free slots failed")
	}
	if s.AllocAt(5, 9, 102) {
		t.Error("allocAt(taken slot) succeeded")
	}
	if c, i := s.Lookup(5, 9); c == nil || i != 5 || c.FD != 100 {
		t.Errorf("Lookup(adopted slot) = %v, %d", c, i)
	}
	seen := map[int32]bool{}
	for range 4 {
		i := s.Alloc(1)
		if i == 5 || i == 2 || seen[i] {
			t.Fatalf("alloc gave slot %d (taken or repeated)", i)
		}
		seen[i] = true
	}
	if !seen[0] || !seen[1] || !seen[3] || !seen[4] {
		t.Errorf("alloc did not reuse the gap slots 0,1,3,4: %v", seen)
	}
}

// TestReleaseStales: a released slot is reused first with its next generation, so a lookup
// with the old one finds nothing; a full table refuses.
func TestReleaseStales(t *testing.T) {
	s := New(3)
	a, b := s.Alloc(10), s.Alloc(11)
	ga := s.At(a).Gen
	s.Release(a)
	if c, _ := s.Lookup(a, ga); c != nil {
		t.Fatalf("Lookup(released slot, old generation) = %+v; want nil", c)
	}
	if i := s.Alloc(12); i != a || s.At(i).Gen != ga+1 || s.At(i).Flags != Open || s.At(i).Out != 0 {
		t.Fatalf("Alloc after Release = slot %d %+v; want slot %d, generation %d, fresh", i, *s.At(i), a, ga+1)
	}
	if c, i := s.Lookup(b, s.At(b).Gen); c == nil || i != b || c.FD != 11 {
		t.Fatalf("Lookup(live slot) = %v, %d", c, i)
	}
	if s.Alloc(13) != 2 || s.Alloc(14) != -1 || s.Len() != 3 {
		t.Fatalf("a table of 3: Len %d; want the fourth Alloc refused", s.Len())
	}
}

// BenchmarkGC times a full runtime.GC with a million-slot connection table live, next to no
// table and to a table of a million pointers: the slab holds no pointers, so it should cost
// the collector what no table costs.
func BenchmarkGC(b *testing.B) {
	const n = 1 << 20
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			runtime.GC()
		}
	})
	b.Run("slab=1M", func(b *testing.B) {
		s := New(n)
		for i := range n {
			s.Alloc(i)
		}
		b.ResetTimer()
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(&s)
	})
	b.Run("pointers=1M", func(b *testing.B) {
		type conn struct {
			fd  int
			buf []byte
		}
		t := make([]*conn, n)
		for i := range t {
			t[i] = &conn{fd: i}
		}
		b.ResetTimer()
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(t)
	})
}
