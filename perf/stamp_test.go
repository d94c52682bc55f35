package perf

import (
	"strings"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		seq  uint64
		mono int64
		size int
	}{{0, 0, 0}, {7, 123456789, 0}, {1 << 40, 1<<62 + 5, 100}, {3, 9, 5}} {
		b := AppendStamp([]byte("x"), c.seq, c.mono, c.size)
		if c.size > 0 && len(b)-1 < c.size {
			t.Fatalf("AppendStamp(size %d) gave %d bytes", c.size, len(b)-1)
		}
		// As pushwire embeds it (JSON string) and as SSE carries it.
		for _, frame := range []string{`{"protocol":2,"data":"` + string(b) + `"}`, string(b)} {
			seq, mono, ok := ParseStamp([]byte(frame))
			if !ok || seq != c.seq || mono != c.mono {
				t.Fatalf("ParseStamp(%q) = %d, %d, %v; want %d, %d, true", frame, seq, mono, ok, c.seq, c.mono)
			}
		}
	}
}

func TestParseStampRejects(t *testing.T) {
	t.Parallel()
	for _, frame := range []string{"", "pbm:", "pbm:1", "pbm:1:", "pbm:1:2", "pbm:x:2;", "pbm:1;2;",
		"pbm:99999999999999999999:1;", `{"protocol":2,"data":{"a":1}}`, strings.Repeat("p", 100)} {
		if _, _, ok := ParseStamp([]byte(frame)); ok {
			t.Fatalf("ParseStamp(%q) ok; want rejected", frame)
		}
	}
}

func TestMonoNowAdvances(t *testing.T) {
	t.Parallel()
	a := MonoNow()
	b := MonoNow()
	if a <= 0 || b < a {
		t.Fatalf("MonoNow = %d then %d; want positive and non-decreasing", a, b)
	}
}
