package perf

import (
	"bytes"
	"testing"
)

// FuzzFloorRequestEnd checks the floor's only parser on arbitrary bytes: no panic, a
// request end within the input's bounds and the 64 KiB limit, and the same answer
// whatever follows a complete request (pipelined bytes never change where it ends).
// Corpus: testdata/fuzz/FuzzFloorRequestEnd.
func FuzzFloorRequestEnd(f *testing.F) {
	f.Add([]byte(post("/pub/pbu12", "pbm:1:2;")), []byte("GET /sub/x HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /sub/pbu7 HTTP/1.1\r\nHost: h\r\n\r\n"), []byte{})
	f.Add([]byte("POST /pub/all HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), []byte("0\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"), []byte("a"))
	f.Fuzz(func(t *testing.T, b, more []byte) {
		head, total, err := requestEnd(b)
		if _, ok := pathIndex(b); ok && len(b) == 0 {
			t.Fatal("pathIndex found an index in nothing")
		}
		if err != nil {
			if head != 0 || total != 0 {
				t.Fatalf("error %v with head %d, total %d", err, head, total)
			}
			return
		}
		if total == 0 {
			if head != 0 || len(b) > floorMaxRequest {
				t.Fatalf("incomplete head: head %d, len %d", head, len(b))
			}
			return
		}
		if head < 4 || head > len(b) || total < head || total > floorMaxRequest || !bytes.HasSuffix(b[:head], crlfcrlf) {
			t.Fatalf("head %d, total %d for %d bytes", head, total, len(b))
		}
		if total <= len(b) {
			whole := append(append([]byte(nil), b[:total]...), more...)
			h2, t2, err := requestEnd(whole)
			if err != nil || h2 != head || t2 != total {
				t.Fatalf("with more bytes after it: %d, %d, %v; alone %d, %d", h2, t2, err, head, total)
			}
		}
	})
}
