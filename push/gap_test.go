package push

import (
	"strings"
	"testing"
)

func TestGapFrame(t *testing.T) {
	b := []byte("B")
	packet := `{"protocol":3,"time":1700000000000,"cmd":"gap","since":"18446744073709551615"}`
	for _, c := range []struct {
		f    Format
		want string
	}{
		{NDJSON, packet + "\n"},
		{SSE, "event: gap\ndata: " + packet + "\n\n"},
		{Poll, packet},
	} {
		if got := string(AppendGapFrame(nil, c.f, 1700000000000, 1<<64-1, b)); got != c.want {
			t.Errorf("AppendGapFrame(%v) = %q; want %q", c.f, got, c.want)
		}
	}
	if got := string(AppendGapFrame(nil, Multipart, 1700000000000, 1<<64-1, b)); !strings.Contains(got, "Content-Type: application/json\r\n") || !strings.HasSuffix(got, packet+"\r\n") {
		t.Errorf("AppendGapFrame(multipart) = %q; want a JSON part holding %s", got, packet)
	}
	if n := testing.AllocsPerRun(100, func() { AppendGapFrame(make([]byte, 0, 512)[:0], SSE, 1, 2, b) }); n > 1 {
		t.Errorf("AppendGapFrame allocates %v times; want only the test's buffer", n)
	}
}
