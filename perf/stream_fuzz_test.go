package perf

import (
	"slices"
	"testing"
)

// FuzzStreamSplit feeds arbitrary bytes to a Stream whole and cut in two at every point
// the fuzzer picks: no panic, and when the whole input is accepted, the cut one is too
// with the same frames, status, conn key, SSE cursor and retry (framing never depends on
// how reads cut a stream; the one exception is FormatChunk without chunked encoding, framed
// by read as frames.go says). Corpus: testdata/fuzz/FuzzStreamSplit, and streamCases.
func FuzzStreamSplit(f *testing.F) {
	for _, c := range streamCases {
		if !c.centrifugo {
			f.Add([]byte(c.wire), uint8(c.format), uint16(len(c.wire)/2))
		}
	}
	f.Fuzz(func(t *testing.T, wire []byte, format uint8, cut uint16) {
		fm := Format(format % 3)
		whole := Stream{Format: fm}
		var wl frameLog
		if err := whole.Feed(wire, &wl); err != nil {
			return
		}
		if fm == FormatChunk && !whole.chunked {
			return // chunk frames without chunked encoding are one per read, by design (frames.go)
		}
		at := int(cut) % (len(wire) + 1)
		split := Stream{Format: fm}
		var sl frameLog
		err := split.Feed(wire[:at], &sl)
		if err == nil {
			err = split.Feed(wire[at:], &sl)
		}
		if err != nil {
			t.Fatalf("cut at %d: %v; whole: accepted", at, err)
		}
		if !slices.Equal(sl.messages, wl.messages) || sl.control != wl.control {
			t.Fatalf("cut at %d: messages %q, control %d; whole: %q, %d", at, sl.messages, sl.control, wl.messages, wl.control)
		}
		if split.Status != whole.Status || split.Key != whole.Key || split.LastID != whole.LastID || split.RetryMs != whole.RetryMs {
			t.Fatalf("cut at %d: status %d key %q id %d retry %d; whole: %d %q %d %d", at,
				split.Status, split.Key, split.LastID, split.RetryMs, whole.Status, whole.Key, whole.LastID, whole.RetryMs)
		}
	})
}
