package perf

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestRawPipeAnswers serves canned pipelined answers (Content-Length, chunked, empty) and
// checks each is read whole and in order, so that the next one starts where it should.
func TestRawPipeAnswers(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	answers := "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		got := ""
		for strings.Count(got, "POST ") < 4 {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got += string(buf[:n])
		}
		_, _ = c.Write([]byte(answers))
	}()
	rp, err := dialRawPipe(Target{API: l.Addr().String()}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.close()
	for range 4 {
		rp.add([]byte("/pub/x"), "text/plain", []byte("pbm:1:1;"))
	}
	if err := rp.flush(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var body []byte
	for i, want := range []struct {
		status int
		body   string
	}{{201, "hello"}, {200, "abcde"}, {404, ""}, {200, "ok"}} {
		st, err := rp.readResponse(&body)
		if err != nil || st != want.status || string(body) != want.body {
			t.Fatalf("answer %d = %d %q, %v; want %d %q", i, st, body, err, want.status, want.body)
		}
	}
}
