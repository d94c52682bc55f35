package server

import (
	"testing"

	"github.com/pushwire/pushwire/engine"
)

// FuzzKeyText: parseKeyText never panics, and every key the server writes
// reads back as itself with its node.
func FuzzKeyText(f *testing.F) {
	f.Add([]byte("AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.7783abe38dfc"), uint64(1<<32|5), uint64(1), uint64(2))
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), uint64(0), uint64(0), uint64(0))
	f.Add([]byte("short.node"), uint64(7), uint64(8), uint64(9))
	f.Fuzz(func(t *testing.T, text []byte, h, r0, r1 uint64) {
		if k, node, ok := parseKeyText(text); ok && node != nil && !validNodeID(node) {
			t.Fatalf("parseKeyText(%q) accepted node %q (key %v)", text, node, k)
		}
		s := &Server{nodeID: "node-1"}
		want := connKey{engine.Handle(h), [2]uint64{r0, r1}}
		written := s.appendKeyText(nil, want)
		got, node, ok := parseKeyText(written)
		if !ok || got != want || string(node) != "node-1" {
			t.Fatalf("parseKeyText(appendKeyText(%v)) = %v, %q, %v; want the same key, node-1, true", want, got, node, ok)
		}
	})
}
