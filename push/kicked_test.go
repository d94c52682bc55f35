package push

import (
	"strings"
	"testing"
)

func TestKickedFrame(t *testing.T) {
	b := []byte("B")
	packet := `{"protocol":3,"time":1700000000000,"cmd":"kicked"}`
	for _, c := range []struct {
		f    Format
		want string
	}{
		{NDJSON, packet + "\n"},
		{SSE, "event: kicked\ndata: " + packet + "\n\n"},
	} {
		if got := string(AppendKickedFrame(nil, c.f, 1700000000000, b)); got != c.want {
			t.Errorf("AppendKickedFrame(%v) = %q; want %q", c.f, got, c.want)
		}
	}
	if got := string(AppendKickedFrame(nil, Multipart, 1700000000000, b)); !strings.Contains(got, "Content-Type: application/json\r\n") || !strings.HasSuffix(got, packet+"\r\n") {
		t.Errorf("AppendKickedFrame(multipart) = %q; want a JSON part holding %s", got, packet)
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { AppendKickedFrame(buf[:0], SSE, 1, b) }); n != 0 {
		t.Errorf("AppendKickedFrame allocates %v times; want 0", n)
	}
}
