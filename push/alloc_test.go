package push

import "testing"

// This runs without t.Parallel: AllocsPerRun counts the whole process.
func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	data := []byte("line one\r\nline two\rline three\n{\"k\":\"v\"}")
	boundary, ct, id := []byte("b0undary"), []byte("application/json"), []byte("42")
	forged := []byte("a\r\n--b0undary\r\nPush-Id: 666\r\n\r\nfake")
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"AppendSSERetry", func() { dst = AppendSSERetry(dst[:0], 3000) }},
		{"AppendSSEComment", func() { dst = AppendSSEComment(dst[:0], data) }},
		{"AppendSSEEvent", func() { dst = AppendSSEEvent(dst[:0], id, ct, data) }},
		{"AppendMultipartPart", func() { dst = AppendMultipartPart(dst[:0], boundary, PartFields{ContentType: ct, PushID: id}, data) }},
		{"AppendMultipartPart quoted-printable", func() { dst = AppendMultipartPart(dst[:0], boundary, PartFields{ContentType: ct, PushID: id}, forged) }},
		{"AppendMultipartClose", func() { dst = AppendMultipartClose(dst[:0], boundary) }},
		{"AppendNDJSON", func() { dst = AppendNDJSON(dst[:0], data) }},
	} {
		if allocs := testing.AllocsPerRun(200, c.fn); allocs != 0 {
			t.Errorf("%s allocs = %v; want 0", c.name, allocs)
		}
	}
}
