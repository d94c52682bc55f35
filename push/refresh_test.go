package push

import (
	"strings"
	"testing"
)

func TestRefreshFrame(t *testing.T) {
	b := []byte("B")
	packet := `{"protocol":3,"time":1700000000000,"cmd":"refresh","exp":1700000030000}`
	for _, c := range []struct {
		f    Format
		want string
	}{
		{NDJSON, packet + "\n"},
		{SSE, "event: refresh\ndata: " + packet + "\n\n"},
	} {
		if got := string(AppendRefreshFrame(nil, c.f, 1700000000000, 1700000030000, b)); got != c.want {
			t.Errorf("AppendRefreshFrame(%v) = %q; want %q", c.f, got, c.want)
		}
	}
	if got := string(AppendRefreshFrame(nil, Multipart, 1700000000000, 1700000030000, b)); !strings.Contains(got, "Content-Type: application/json\r\n") || !strings.HasSuffix(got, packet+"\r\n") {
		t.Errorf("AppendRefreshFrame(multipart) = %q; want a JSON part holding %s", got, packet)
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { AppendRefreshFrame(buf[:0], SSE, 1, 2, b) }); n != 0 {
		t.Errorf("AppendRefreshFrame allocates %v times; want 0", n)
	}
}
