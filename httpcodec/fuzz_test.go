package httpcodec

import (
	"bytes"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net/http/httputil"
	"testing"
)

// addSeeds seeds a fuzz target with the case table, the pipelined stream and
// the wire fixtures; testdata/fuzz/<target>/ adds the inputs that once failed.
func addSeeds(f *testing.F, wrap func(string) []byte) {
	for _, tc := range parseCases {
		f.Add(wrap(tc.in))
	}
	f.Add(wrap(pipelined))
	for _, b := range readFixtures(f) {
		f.Add(wrap(string(b)))
	}
}

var fuzzSeed = maphash.MakeSeed()

// checkSplits feeds in whole, one byte per read, split in two at a point the
// input picks, and in random pieces, and fails unless all agree. It returns
// the whole-feed results.
func checkSplits(t *testing.T, lim Limits, in []byte) []result {
	whole := feed(lim, in, nil)
	for _, r := range whole {
		if r.n < 0 || r.n > len(in) || len(r.body) > len(in) {
			t.Fatalf("result %v out of range for %d input bytes", r, len(in))
		}
	}
	if len(in) == 0 {
		return whole
	}
	h := maphash.Bytes(fuzzSeed, in)
	modes := [][]int{onePieces(len(in)), {int(h % uint64(len(in)))}, randomPieces(rand.New(rand.NewPCG(h, 7)), len(in))}
	for i, pieces := range modes {
		if got := feed(lim, in, pieces); !sameResults(got, whole) {
			t.Fatalf("mode %d (pieces %v): %v; want %v (as fed whole)", i, pieces, got, whole)
		}
	}
	return whole
}

// FuzzParse checks that Parse never panics, gives the same results however
// the bytes are split, and that whatever it accepts net/http accepts alike.
func FuzzParse(f *testing.F) {
	addSeeds(f, func(s string) []byte { return []byte(s) })
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := checkSplits(t, Limits{}, in)
		checkSplits(t, Limits{MaxRequestLine: 24, MaxHeaderBytes: 64, MaxHeaders: 3, MaxBody: 16}, in)
		rest := in
		for _, r := range whole {
			if r.n == 0 {
				break
			}
			if err := agreeWithNetHTTP(rest[:r.n], r); err != nil {
				t.Fatalf("request %q: %v", rest[:r.n], err)
			}
			rest = rest[r.n:]
		}
	})
}

const chunkedHead = "POST /pub HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

// FuzzChunked drives the chunked body decoder: the input is a body after a
// fixed chunked head. The decoded body must not depend on the splits, and a
// body we accept must decode to the same bytes with net/http's decoder.
func FuzzChunked(f *testing.F) {
	addSeeds(f, func(s string) []byte {
		if i := bytes.Index([]byte(s), []byte("\r\n\r\n")); i >= 0 && bytes.Contains([]byte(s[:i]), []byte("chunked")) {
			return []byte(s[i+4:])
		}
		return []byte("5\r\nhello\r\n0\r\n\r\n")
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append([]byte(chunkedHead), body...)
		whole := checkSplits(t, Limits{}, in)
		checkSplits(t, Limits{MaxBody: 7}, in)
		if r := whole[0]; r.n > 0 {
			framed := in[len(chunkedHead):r.n]
			got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(framed)))
			if err != nil || string(got) != r.body {
				t.Fatalf("net/http decodes %q as %q, %v; we gave %q", framed, got, err, r.body)
			}
		}
	})
}
