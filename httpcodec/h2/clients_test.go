package h2

import (
	"os/exec"
	"strings"
	"testing"
)

// listenTest serves every accepted connection through a driver answering
// each request with 200, an SSE content type and body.
func listenTest(t *testing.T, body string) string {
	return serveLoopback(t, Config{}, func(d *driver, id uint32, method, path string, _ []byte) {
		d.out, _ = d.c.WriteHeaders(d.out, id, 200, []Field{{"content-type", "text/event-stream"}, {"x-path", path}}, false)
		d.out, _ = d.c.WriteData(d.out, id, []byte(body[:len(body)/2]), false)
		d.out, _ = d.c.WriteData(d.out, id, []byte(body[len(body)/2:]), true)
	}, nil)
}

// TestCurlPriorKnowledge: curl (libcurl + nghttp2) with
// --http2-prior-knowledge. One URL per run: curl 7.88.1 fails reusing a
// prior-knowledge connection for a second URL ("Error in the HTTP2 framing
// layer") against x/net's own h2c server too.
func TestCurlPriorKnowledge(t *testing.T) {
	addr := listenTest(t, "data: hello\n\n")
	for _, path := range []string{"/sub?a=1", "/sub?a=2"} {
		out, err := exec.Command("curl", "-sS", "--http2-prior-knowledge", "-i", "http://"+addr+path).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		s := string(out)
		for _, want := range []string{"HTTP/2 200", "content-type: text/event-stream", "x-path: " + path, "\r\n\r\ndata: hello\n\n"} {
			if !strings.Contains(s, want) {
				t.Fatalf("curl output lacks %q:\n%s", want, s)
			}
		}
	}
}

// TestNghttp: nghttp (h2c, prior knowledge) with several concurrent streams.
func TestNghttp(t *testing.T) {
	addr := listenTest(t, "data: hi\n\n")
	out, err := exec.Command("nghttp", "-nv", "-m", "5", "http://"+addr+"/sub").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp: %v\n%s", err, out)
	}
	s := string(out)
	if n := strings.Count(s, ":status: 200"); n != 5 {
		t.Fatalf("nghttp saw %d responses; want 5\n%s", n, s)
	}
	if strings.Contains(s, "GOAWAY") && !strings.Contains(s, "error_code=NO_ERROR") {
		t.Fatalf("nghttp got a GOAWAY with an error:\n%s", s)
	}
}
