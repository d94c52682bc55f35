package httpcodec

import (
	"testing"
	"unsafe"
)

// These run without t.Parallel: AllocsPerRun counts the whole process.

func TestParseAllocs(t *testing.T) {
	for _, in := range []string{subscribeRequest, publishRequest, publishChunked} {
		p := NewParser(Limits{})
		buf := []byte(in)
		src := []byte(in)
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf, src) // de-chunking rewrote the last copy in place
			p.Reset(Limits{})
			n, err := p.Parse(buf)
			if n != len(buf) || err != nil {
				t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(buf))
			}
			r := p.Request()
			_ = r.Header("accept")
			_ = r.Host()
			_ = r.Path()
			_ = r.Body()
			QueryEach(r.Query(), func(k, v []byte) bool { return true })
		})
		if allocs != 0 {
			t.Errorf("Parse(%.30q...) allocs = %v; want 0", in, allocs)
		}
	}
	p := NewParser(Limits{})
	bad := []byte("GET / HTTP/1.1\r\nHost : x\r\n\r\n")
	if allocs := testing.AllocsPerRun(200, func() { p.Reset(Limits{}); _, _ = p.Parse(bad) }); allocs != 0 {
		t.Errorf("Parse(malformed) allocs = %v; want 0", allocs)
	}
}

func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	data := []byte("line one\r\nline two\rline three\n{\"k\":\"v\"}")
	id := []byte("42")
	dec := make([]byte, 0, 64)
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"AppendStatusLine", func() { dst = AppendStatusLine(dst[:0], 1, 200) }},
		{"AppendHeader", func() { dst = AppendHeader(dst[:0], "Cache-Control", "no-cache") }},
		{"AppendHeaderBytes", func() { dst = AppendHeaderBytes(dst[:0], "Push-Conn", id) }},
		{"AppendHeaderInt", func() { dst = AppendHeaderInt(dst[:0], "Content-Length", 12345) }},
		{"AppendChunkHeader", func() { dst = AppendChunkHeader(dst[:0], 4096) }},
		{"AppendChunk", func() { dst = AppendChunk(dst[:0], data) }},
		{"AppendLastChunk", func() { dst = AppendLastChunk(dst[:0]) }},
		{"AppendJSONString", func() { dst = AppendJSONString(dst[:0], []byte("caf\xc3\xa9 \xff \u2028 \"q\" \x01")) }},
		{"AppendUnescape", func() { dec, _ = AppendUnescape(dec[:0], []byte("a%20b+c")) }},
	} {
		if allocs := testing.AllocsPerRun(200, c.fn); allocs != 0 {
			t.Errorf("%s allocs = %v; want 0", c.name, allocs)
		}
	}
}

// TestParserSize keeps the pooled Parser small; the header offset array is
// most of it.
func TestParserSize(t *testing.T) {
	if size := unsafe.Sizeof(Parser{}); size > 224 {
		t.Errorf("Parser is %d bytes; want at most 224", size)
	}
}
