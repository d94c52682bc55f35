package push

import "testing"

// FuzzKeyText: ParseConnKey never panics, and every key a node writes
// reads back as itself with its node.
func FuzzKeyText(f *testing.F) {
	f.Add([]byte("AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.7783abe38dfc"), uint64(1<<32|5), uint64(1), uint64(2))
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), uint64(0), uint64(0), uint64(0))
	f.Add([]byte("short.node"), uint64(7), uint64(8), uint64(9))
	f.Fuzz(func(t *testing.T, text []byte, h, r0, r1 uint64) {
		if k, node, ok := ParseConnKey(text); ok && node != nil && !ValidNodeID(node) {
			t.Fatalf("ParseConnKey(%q) accepted node %q (key %v)", text, node, k)
		}
		want := ConnKey{h, [2]uint64{r0, r1}}
		written := AppendConnKey(nil, want, "node-1")
		got, node, ok := ParseConnKey(written)
		if !ok || got != want || string(node) != "node-1" {
			t.Fatalf("ParseConnKey(AppendConnKey(%v)) = %v, %q, %v; want the same key, node-1, true", want, got, node, ok)
		}
	})
}
