package httpcodec

import (
	"strings"
	"testing"

	"github.com/bytedance/sonic/encoder"
)

// BenchmarkJSONString compares AppendJSONString with sonic's string
// encoder on the payload shapes pushwire quotes: short ASCII, ASCII that
// needs escapes, mixed UTF-8 text, and a 4 KiB message. sonic runs with
// ValidateString, which it needs to give the same output for invalid UTF-8.
//
// Result on the development machine (see the report in the commit that
// added this file): ours wins on the short inputs that dominate pushes,
// where sonic pays for the interface boxing and option dispatch of its
// generic entry point (one allocation per call); on long ASCII sonic's SIMD
// scan is ahead. Pushes are mostly short and must not allocate, so the hot
// path keeps AppendJSONString; sonic stays the choice for whole values.
func BenchmarkJSONString(b *testing.B) {
	inputs := []struct{ name, s string }{
		{"short", "breaking news: markets up 2 percent"},
		{"escapes", "line \"one\"\n\tline two\\ \x01 end"},
		{"utf8", "Überraschung! 市场上涨 2% — café ✓ 😀"},
		{"4KiB", strings.Repeat("push message payload text 0123456789 ", 111)[:4096]},
	}
	for _, in := range inputs {
		src := []byte(in.s)
		b.Run(in.name+"/ours", func(b *testing.B) {
			dst := make([]byte, 0, 16<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				dst = AppendJSONString(dst[:0], src)
			}
		})
		b.Run(in.name+"/sonic", func(b *testing.B) {
			dst := make([]byte, 0, 16<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				dst = dst[:0]
				if err := encoder.EncodeInto(&dst, in.s, encoder.ValidateString); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
