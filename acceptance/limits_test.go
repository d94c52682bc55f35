package acceptance

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dialSmallWindow connects with a 4 KiB receive buffer, so that a reader
// that stops reading backs up into the server quickly.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSlowReaderCut: a subscriber that stops reading is cut once its pending
// output passes --write-buffer-limit, is counted, and never holds back the
// others or the publisher.
func TestSlowReaderCut(t *testing.T) {
	t.Parallel()
	const msgs, size = 200, 8 << 10
	n := startNode(t, "--write-buffer-limit", "64KiB")

	slow := dialSmallWindow(t, n.edge)
	writeAll(t, slow, "GET /sub?topic=big HTTP/1.1\r\nHost: x\r\n\r\n")
	slowStream := readStreamHead(t, slow, "slow subscribe")
	slowStream.packet()

	fast := n.subscribe("/sub?topic=big")
	defer fast.close()
	fast.packet()
	// The publisher waits for the reading subscriber after each push, so
	// that only the stalled one falls behind.
	received := make(chan error, 1)
	go func() {
		for {
			fast.conn.SetReadDeadline(time.Now().Add(ioTimeout))
			_, err := fast.body.ReadString('\n')
			received <- err
			if err != nil {
				return
			}
		}
	}()
	payload := strings.Repeat("p", size)
	for i := 0; i < msgs; i++ {
		r := n.pub("topic/big", payload)
		if r.status != 200 {
			t.Fatalf("publish %d = %d %s; want 200", i, r.status, r.body)
		}
		if err := <-received; err != nil {
			t.Fatalf("the reading subscriber lost its stream at message %d of %d while another stalled: %v", i, msgs, err)
		}
	}
	st := n.stats()
	if st["slow_consumers"] < 1 {
		t.Errorf("/stats slow_consumers = %v; want at least 1 after %d KiB to a stalled reader", st["slow_consumers"], msgs*size>>10)
	}
	if st["drops"] < 1 {
		t.Errorf("/stats drops = %v; want the cut counted", st["drops"])
	}
	t.Logf("/stats after the cut: slow_consumers %v drops %v connections %v", st["slow_consumers"], st["drops"], st["connections"])
	if st["connections"] != 1 {
		t.Errorf("/stats connections = %v; want 1 (the slow reader removed)", st["connections"])
	}
	// The stalled peer finds its connection closed once it reads what was sent.
	slow.SetReadDeadline(time.Now().Add(ioTimeout))
	n2, err := io.Copy(io.Discard, slowStream.raw)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("slow reader connection still open after reading %d bytes", n2)
	}
	if n2 >= int64(msgs*size) {
		t.Errorf("slow reader got %d bytes, all of it; want it cut", n2)
	}
	if r := n.pub("conn/"+slowStream.key, "x"); r.status != 404 {
		t.Errorf("POST /pub/conn/<cut key> = %d; want 404", r.status)
	}
}

// TestDeadPeerCleanup: peers that close (FIN), reset (RST) or half-close are
// removed from every index.
func TestDeadPeerCleanup(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--heartbeat", "1s")
	formats := []string{"ndjson", "sse", "multipart"}
	var streams []*stream
	for i, f := range formats {
		for j := 0; j < 3; j++ {
			streams = append(streams, n.subscribe(fmt.Sprintf("/sub?user=dead%d&topic=room%d&format=%s", j, i, f)))
		}
	}
	st := n.stats()
	if st["connections"] != 9 || st["users"] != 3 || st["topics"] != 3 {
		t.Fatalf("/stats = %v; want 9 connections, 3 users, 3 topics", st)
	}
	start := time.Now()
	for i, s := range streams {
		switch i % 3 {
		case 0: // RST
			s.conn.(*net.TCPConn).SetLinger(0)
			s.conn.Close()
		case 1: // FIN
			s.conn.Close()
		case 2: // half-close: the peer is done
			s.conn.(*net.TCPConn).CloseWrite()
		}
	}
	waitFor(t, 15*time.Second, "dead peers still counted in /stats", func() bool {
		st = n.stats()
		return st["connections"] == 0 && st["users"] == 0 && st["topics"] == 0
	})
	t.Logf("dead peers gone from /stats after %v (heartbeat 1s)", time.Since(start))
	for _, s := range streams {
		if r := n.pub("conn/"+s.key, "x"); r.status != 404 {
			t.Errorf("POST /pub/conn/%s after the peer left = %d %s; want 404", s.key, r.status, r.body)
		}
	}
	for j := 0; j < 3; j++ {
		if r := n.pub(fmt.Sprintf("user/dead%d", j), "x"); r.status != 404 {
			t.Errorf("POST /pub/user/dead%d = %d; want 404", j, r.status)
		}
	}
	if r := n.pub("topic/room0", "x"); r.status != 200 || !strings.Contains(string(r.body), `"delivered":0`) {
		t.Errorf("POST /pub/topic/room0 = %d %s; want delivered 0", r.status, r.body)
	}
}

// TestHeaderTimeout: a slowloris request head gets 408 and a close.
func TestHeaderTimeout(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--header-timeout", "500ms")
	for _, addr := range []string{n.edge, n.api} {
		c := dial(t, addr)
		writeAll(t, c, "GET /sub?topic=a HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		closed := false
		var out string
		for i := 0; i < 100 && !closed; i++ {
			c.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := c.Write([]byte("X-Slow: a\r\n")); err != nil {
				break
			}
			var got string
			got, closed = readUntilQuiet(c, 100*time.Millisecond)
			out += got
		}
		if !closed {
			more, c2 := readUntilQuiet(c, 2*time.Second)
			out, closed = out+more, c2
		}
		if statusOf(out) != 408 || !closed {
			t.Errorf("%s: slowloris head got %q (closed %v) after %v; want 408 and close", addr, out, closed, time.Since(start))
		}
	}
}

// TestMaxHeaderBytes: a head larger than --max-header-bytes gets 431 and a close.
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-header-bytes", "1KiB")
	big := "GET /sub?topic=a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2048) + "\r\n\r\n"
	for _, addr := range []string{n.edge, n.api} {
		out, closed := rawExchange(t, addr, big, 3*time.Second)
		if statusOf(out) != 431 || !closed {
			t.Errorf("%s: 2 KiB head with --max-header-bytes 1KiB got %q (closed %v); want 431 and close", addr, firstLine(out), closed)
		}
	}
	s := n.subscribe("/sub?topic=a", "X-Fits", strings.Repeat("f", 700))
	s.close()
}

var statusLine = regexp.MustCompile(`(?m)^HTTP/1\.[01] \d{3} `)

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// TestMaxConns: the connection over --max-conns gets 503 and a close.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-conns", "3")
	var held []*stream
	for i := 0; i < 3; i++ {
		held = append(held, n.subscribe("/sub?topic=a"))
	}
	out, closed := rawExchange(t, n.edge, "GET /sub?topic=a HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
	if statusOf(out) != 503 || !closed {
		t.Fatalf("4th connection with --max-conns 3 got %q (closed %v); want 503 and close", firstLine(out), closed)
	}
	// The api listener is not counted: publishing still works.
	n.mustPub(200, "topic/a", "x")
	held[0].close()
	waitFor(t, 10*time.Second, "a freed slot is not reused", func() bool {
		s := n.subscribeAny("/sub?topic=a")
		defer s.close()
		return s.resp.StatusCode == 200
	})
}

// TestMaxConnsPerIP: the connection over --max-conns-per-ip from one address
// gets 503; another address is not affected.
func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-conns-per-ip", "2")
	a := n.subscribe("/sub?topic=a")
	defer a.close()
	b := n.subscribe("/sub?topic=a")
	defer b.close()
	out, closed := rawExchange(t, n.edge, "GET /sub?topic=a HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
	if statusOf(out) != 503 || !closed {
		t.Fatalf("3rd connection from 127.0.0.1 with --max-conns-per-ip 2 got %q (closed %v); want 503 and close", firstLine(out), closed)
	}
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", n.edge)
	if err != nil {
		t.Fatalf("dial from 127.0.0.2: %v", err)
	}
	defer c.Close()
	writeAll(t, c, "GET /sub?topic=a HTTP/1.1\r\nHost: x\r\n\r\n")
	if s := readStreamHead(t, c, "subscribe from 127.0.0.2"); s.resp.StatusCode != 200 {
		t.Fatalf("subscribe from 127.0.0.2 = %d; want 200", s.resp.StatusCode)
	}
}

// TestMalformedRequests: smuggling shapes and malformed heads get a 4xx and a
// close, and bytes after them are never answered.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	const next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name, req string
		want      []int
	}{
		{"CL+TE", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"TE+CL", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", []int{400}},
		{"duplicate CL differing", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []int{400}},
		{"duplicate CL same", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", []int{400}},
		{"CL list", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab", []int{400}},
		{"CL plus sign", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab", []int{400}},
		{"CL negative", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", []int{400}},
		{"CL hex", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0x2\r\n\r\nab", []int{400}},
		{"CL huge", "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", []int{400, 413}},
		{"bad chunk size", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", []int{400}},
		{"chunk size overflow", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nab\r\n0\r\n\r\n", []int{400, 413}},
		{"TE not chunked", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab", []int{400, 501}},
		{"TE chunked twice", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", []int{400, 501}},
		{"TE obfuscated", "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"TE on HTTP/1.0", "POST %s HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"bare LF", "POST %s HTTP/1.1\nHost: x\nContent-Length: 0\n\n", []int{400}},
		{"bare CR", "POST %s HTTP/1.1\r\nHost: x\rX: y\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"obs-fold", "POST %s HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"space before colon", "POST %s HTTP/1.1\r\nHost : x\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"no Host on 1.1", "POST %s HTTP/1.1\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"two Hosts", "POST %s HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"NUL in header", "POST %s HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n", []int{400}},
		{"HTTP/2.0 version", "POST %s HTTP/2.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n", []int{400, 505}},
		{"bad version digits", "POST %s HTTP/1.10\r\nHost: x\r\nContent-Length: 0\r\n\r\n", []int{400, 505}},
		{"junk request line", "POST  %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", []int{400}},
	}
	for _, addr := range []struct{ name, hostport, path string }{{"api", n.api, "/pub/topic/t"}, {"edge", n.edge, "/ack?conn=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&id=1"}} {
		for _, c := range cases {
			req := fmt.Sprintf(c.req, addr.path) + next
			out, closed := rawExchange(t, addr.hostport, req, 3*time.Second)
			st := statusOf(out)
			ok := false
			for _, w := range c.want {
				ok = ok || st == w
			}
			if !ok || !closed {
				t.Errorf("%s %s: got %q (closed %v); want %v and close", addr.name, c.name, firstLine(out), closed, c.want)
				continue
			}
			if k := len(statusLine.FindAllString(out, -1)); k != 1 {
				t.Errorf("%s %s: %d responses in %q; want only the error (bytes after it never parsed)", addr.name, c.name, k, out)
			}
		}
	}
	// The listeners still serve.
	if r := n.do("GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("GET /healthz after malformed requests = %d", r.status)
	}
}
