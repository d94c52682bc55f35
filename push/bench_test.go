package push

import "testing"

var (
	benchPayload  = []byte(`{"title":"breaking","body":"markets up 2%","ts":1700000000000}` + "\n\n")
	benchMultiple = []byte("line one\r\nline two\rline three\nline four")
)

func benchEncoder(b *testing.B, size int, fn func(dst []byte) []byte) {
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		dst = fn(dst[:0])
	}
}

func BenchmarkAppendSSERetry(b *testing.B) {
	benchEncoder(b, 13, func(d []byte) []byte { return AppendSSERetry(d, 3000) })
}

func BenchmarkAppendSSEComment(b *testing.B) {
	hb := []byte("hb 1700000000000")
	benchEncoder(b, 20, func(d []byte) []byte { return AppendSSEComment(d, hb) })
}

func BenchmarkAppendSSEEvent(b *testing.B) {
	id, ev := []byte("1700000000000-42"), []byte("message")
	benchEncoder(b, len(benchPayload)+48, func(d []byte) []byte { return AppendSSEEvent(d, id, ev, benchPayload) })
}

func BenchmarkAppendSSEEventMultiLine(b *testing.B) {
	benchEncoder(b, len(benchMultiple)+28, func(d []byte) []byte { return AppendSSEEvent(d, nil, nil, benchMultiple) })
}

func BenchmarkAppendMultipartPart(b *testing.B) {
	bd, ct, id := []byte("pushwire-7f3a9c"), []byte("application/json"), []byte("1700000000000-42")
	benchEncoder(b, len(benchPayload)+80, func(d []byte) []byte {
		return AppendMultipartPart(d, bd, PartFields{ContentType: ct, PushID: id}, benchPayload)
	})
}

// BenchmarkAppendMultipartPartQuotedPrintable is the rare part whose body
// holds the delimiter and goes out quoted-printable.
func BenchmarkAppendMultipartPartQuotedPrintable(b *testing.B) {
	bd, ct, id := []byte("pushwire-7f3a9c"), []byte("application/json"), []byte("1700000000000-42")
	body := append(append([]byte{}, benchPayload...), "\r\n--pushwire-7f3a9c"...)
	part := func(d []byte) []byte {
		return AppendMultipartPart(d, bd, PartFields{ContentType: ct, PushID: id}, body)
	}
	benchEncoder(b, len(part(nil)), part)
}

func BenchmarkAppendMultipartClose(b *testing.B) {
	bd := []byte("pushwire-7f3a9c")
	benchEncoder(b, 21, func(d []byte) []byte { return AppendMultipartClose(d, bd) })
}

func BenchmarkAppendNDJSON(b *testing.B) {
	benchEncoder(b, len(benchPayload)+1, func(d []byte) []byte { return AppendNDJSON(d, benchPayload) })
}
