package hooks

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAppendEvent: the exact bytes of a line, with and without a user, and escaping that keeps
// one JSON object per line.
func TestAppendEvent(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1763761234567)
	for _, tc := range []struct {
		typ, conn, user, node string
		want                  string
	}{
		{typeConnect, "k1", "42", `"n1"`,
			`{"type":"connect","conn":"k1","user":"42","node":"n1","time":1763761234567}` + "\n"},
		{typeDisconnect, "k1", "", `"n1"`,
			`{"type":"disconnect","conn":"k1","node":"n1","time":1763761234567}` + "\n"},
		{typeConnect, "k\n2", "a\"b\\c\n\x00日\u2028\xff", `"n1"`,
			`{"type":"connect","conn":"k\n2","user":"a\"b\\c\n\u0000日\u2028\ufffd","node":"n1","time":1763761234567}` + "\n"},
	} {
		got := appendEvent([]byte("prev\n"), tc.typ, []byte(tc.conn), []byte(tc.user), []byte(tc.node), at)
		if string(got) != "prev\n"+tc.want {
			t.Errorf("appendEvent(%q, %q, %q) = %q; want %q", tc.typ, tc.conn, tc.user, got[5:], tc.want)
		}
		if !json.Valid(got[5:]) {
			t.Errorf("appendEvent(%q, %q, %q) = %q: not valid JSON", tc.typ, tc.conn, tc.user, got[5:])
		}
	}
}

// TestCutLines: a batch is whole lines, at most the given number of them.
func TestCutLines(t *testing.T) {
	t.Parallel()
	b := []byte("a\nbb\nccc\n")
	for _, tc := range []struct{ most, length, n int }{{1, 2, 1}, {2, 5, 2}, {3, 9, 3}, {10, 9, 3}} {
		if l, n := cutLines(b, tc.most); l != tc.length || n != tc.n {
			t.Errorf("cutLines(%q, %d) = %d, %d; want %d, %d", b, tc.most, l, n, tc.length, tc.n)
		}
	}
	if l, n := cutLines(nil, 5); l != 0 || n != 0 {
		t.Errorf("cutLines(nil, 5) = %d, %d; want 0, 0", l, n)
	}
}

// TestBackoff: 100ms doubling to 5s, each wait jittered into [step/2, step).
func TestBackoff(t *testing.T) {
	t.Parallel()
	var steps []time.Duration
	d := time.Duration(0)
	for range 9 {
		d = nextBackoff(d)
		steps = append(steps, d)
		for range 100 {
			if w := jitter(d); w < d/2 || w >= d {
				t.Fatalf("jitter(%v) = %v; want within [%v, %v)", d, w, d/2, d)
			}
		}
	}
	want := []time.Duration{100e6, 200e6, 400e6, 800e6, 1600e6, 3200e6, 5e9, 5e9, 5e9}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("backoff steps = %v; want %v", steps, want)
		}
	}
}
