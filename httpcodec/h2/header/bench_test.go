package header

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// respFields are a stream's response fields.
var respFields = []struct{ Name, Value string }{
	{"content-type", "text/event-stream"}, {"cache-control", "no-cache"},
	{"x-accel-buffering", "no"}, {"access-control-allow-origin", "*"},
}

// BenchmarkEncodeHeaders compares our literal encoder with hpack.Encoder at
// table size 0 (the choice: see encode.go).
func BenchmarkEncodeHeaders(b *testing.B) {
	b.Run("hand", func(b *testing.B) {
		dst := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendStatus(dst[:0], 200)
			for _, f := range respFields {
				dst = AppendField(dst, f.Name, f.Value)
			}
		}
		b.ReportMetric(float64(len(dst)), "bytes/block")
	})
	b.Run("hpack.Encoder", func(b *testing.B) {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(0)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			for _, f := range respFields {
				enc.WriteField(hpack.HeaderField{Name: f.Name, Value: f.Value})
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes/block")
	})
}
