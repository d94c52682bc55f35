package httpcodec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

func benchParse(b *testing.B, in string) {
	p := NewParser(Limits{})
	buf := []byte(in)
	src := []byte(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		copy(buf, src)
		p.Reset(Limits{})
		if n, err := p.Parse(buf); n != len(buf) || err != nil {
			b.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(buf))
		}
		_ = p.Request().Body()
	}
}

// benchNetHTTP is the standard-library baseline: ReadRequest on the same
// bytes, reusing the bufio.Reader as a server does, and reading the body.
func benchNetHTTP(b *testing.B, in string) {
	src := []byte(in)
	rd := bytes.NewReader(src)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		rd.Reset(src)
		br.Reset(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSubscribe(b *testing.B)             { benchParse(b, subscribeRequest) }
func BenchmarkParseSubscribeNetHTTP(b *testing.B)      { benchNetHTTP(b, subscribeRequest) }
func BenchmarkParsePublish(b *testing.B)               { benchParse(b, publishRequest) }
func BenchmarkParsePublishNetHTTP(b *testing.B)        { benchNetHTTP(b, publishRequest) }
func BenchmarkParsePublishChunked(b *testing.B)        { benchParse(b, publishChunked) }
func BenchmarkParsePublishChunkedNetHTTP(b *testing.B) { benchNetHTTP(b, publishChunked) }

// BenchmarkParseSubscribeByteByByte is the worst case for resumption: one
// Parse call per arriving byte.
func BenchmarkParseSubscribeByteByByte(b *testing.B) {
	p := NewParser(Limits{})
	src := []byte(subscribeRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		p.Reset(Limits{})
		for i := 1; i <= len(src); i++ {
			if n, err := p.Parse(src[:i]); err != nil || (n == 0) != (i < len(src)) {
				b.Fatalf("Parse(%d bytes) = %d, %v", i, n, err)
			}
		}
	}
}

var benchPayload = []byte(`{"title":"breaking","body":"markets up 2%","ts":1700000000000}` + "\n\n")

func benchEncoder(b *testing.B, size int, fn func(dst []byte) []byte) {
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		dst = fn(dst[:0])
	}
}

func BenchmarkAppendStatusLine(b *testing.B) {
	benchEncoder(b, 17, func(d []byte) []byte { return AppendStatusLine(d, 1, 200) })
}

func BenchmarkAppendHeader(b *testing.B) {
	benchEncoder(b, 25, func(d []byte) []byte { return AppendHeader(d, "Cache-Control", "no-cache") })
}

func BenchmarkAppendHeaderBytes(b *testing.B) {
	v := []byte("pw1.node-a.8f3k2j1h9g7f6d5s4a3")
	benchEncoder(b, 42, func(d []byte) []byte { return AppendHeaderBytes(d, "Push-Conn", v) })
}

func BenchmarkAppendHeaderInt(b *testing.B) {
	benchEncoder(b, 23, func(d []byte) []byte { return AppendHeaderInt(d, "Content-Length", 65536) })
}

func BenchmarkAppendChunkHeader(b *testing.B) {
	benchEncoder(b, 6, func(d []byte) []byte { return AppendChunkHeader(d, 4096) })
}

func BenchmarkAppendChunk(b *testing.B) {
	benchEncoder(b, len(benchPayload)+6, func(d []byte) []byte { return AppendChunk(d, benchPayload) })
}

func BenchmarkAppendLastChunk(b *testing.B) {
	benchEncoder(b, 5, AppendLastChunk)
}
