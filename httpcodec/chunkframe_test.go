package httpcodec

import "testing"

func TestChunkedFrameViews(t *testing.T) {
	for _, n := range []int{1, 15, 16, 4095, 4096, 70000} {
		body := make([]byte, n)
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		buf := AppendChunkedFrame([]byte("junk"), func(dst []byte) []byte { return append(dst, body...) })
		chunked, raw := SplitChunkedFrame(buf[len("junk"):])
		if string(raw) != string(body) {
			t.Errorf("%d bytes: raw view is %d bytes; want the frame", n, len(raw))
		}
		want := string(AppendChunk(nil, body)) // a frame is never empty: that would end the stream
		if string(chunked) != want {
			t.Errorf("%d bytes: chunked view %q...; want %q...", n, chunked[:min(len(chunked), 12)], want[:min(len(want), 12)])
		}
	}
}
