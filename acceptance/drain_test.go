package acceptance

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var reconnectPacket = regexp.MustCompile(`^\{"protocol":3,"time":T,"cmd":"reconnect","retry":(\d+)\}$`)

// checkRetry requires a reconnect packet and returns its retry.
func checkReconnect(t *testing.T, what, packet string) int {
	t.Helper()
	m := reconnectPacket.FindStringSubmatch(packet)
	if m == nil {
		t.Errorf("%s: got %s; want {\"protocol\":3,\"time\":T,\"cmd\":\"reconnect\",\"retry\":<ms>}", what, packet)
		return 0
	}
	retry, _ := strconv.Atoi(m[1])
	if retry < 1000 {
		t.Errorf("%s: retry %d; want at least --retry 1s", what, retry)
	}
	return retry
}

// expectEOF requires the stream body to end cleanly (last chunk, then close).
func expectEOF(t *testing.T, s *stream, what string) {
	t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(s.body)
	if err != nil || len(rest) != 0 {
		t.Errorf("%s: after the reconnect frame got %q, %v; want the end of the stream", what, rest, err)
	}
}

// TestDrainOnSIGTERM: every stream gets the reconnect frame and ends, waiting
// long-polls get 204, readyz answers 503 while the drain lasts, new
// subscribers are turned away, and the process exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--drain", "4s", "--retry", "1s", "--poll-timeout", "30s", "--write-buffer-limit", "4MiB")

	nd := n.subscribe("/sub?topic=d&format=ndjson")
	nd.packet()
	sse := n.subscribe("/sub?topic=d&format=sse")
	sse.sseEvent()
	sse.sseEvent()
	mp := n.subscribe("/sub?topic=d&format=multipart")
	boundary := strings.TrimPrefix(mp.resp.Header.Get("Content-Type"), "multipart/mixed; boundary=")
	mp.part(boundary)
	old := dial(t, n.edge)
	writeAll(t, old, "GET /sub?topic=d HTTP/1.0\r\n\r\n")
	readUntilQuiet(old, 200*time.Millisecond)
	pollc := make(chan pollAnswer, 1)
	go func() { pollc <- n.poll("/sub?topic=d&format=poll") }()

	// A stalled reader with output pending keeps the drain busy, so that
	// readyz can be seen during it.
	stuck := dialSmallWindow(t, n.edge)
	writeAll(t, stuck, "GET /sub?topic=stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, 10*time.Second, "subscribers not all registered", func() bool { return n.stats()["connections"] == 6 })
	payload := strings.Repeat("s", 32<<10)
	for i := 0; i < 20; i++ {
		n.mustPub(200, "topic/stuck", payload)
	}

	// An api connection opened before the drain, kept alive.
	apiConn := dial(t, n.api)
	apiRead := bufio.NewReader(apiConn)
	readyz := func() int {
		writeAll(t, apiConn, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
		apiConn.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(apiRead, nil)
		if err != nil {
			t.Fatalf("GET /readyz on a kept-alive api connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := readyz(); st != 200 {
		t.Fatalf("GET /readyz before the drain = %d; want 200", st)
	}

	start := time.Now()
	n.signal(syscall.SIGTERM)

	waitFor(t, 10*time.Second, "readyz never answered 503 during the drain", func() bool { return readyz() == 503 })
	// A health checker opens a new connection each time: it must see the 503 too.
	if c, err := net.DialTimeout("tcp", n.api, time.Second); err != nil {
		t.Errorf("GET /readyz on a new api connection during the drain: %v; want 503", err)
	} else {
		writeAll(t, c, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if out, _ := readUntilQuiet(c, 2*time.Second); statusOf(out) != 503 {
			t.Errorf("GET /readyz on a new api connection during the drain = %q; want 503", firstLine(out))
		}
		c.Close()
	}

	checkReconnect(t, "ndjson", nd.packet())
	expectEOF(t, nd, "ndjson")

	ev := sse.sseEvent()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "retry: ") {
		t.Errorf("sse drain: first block %q; want a retry: line", ev)
	} else {
		retry := strings.TrimPrefix(ev[0], "retry: ")
		ev = sse.sseEvent()
		if len(ev) != 2 || ev[0] != "event: reconnect" || !strings.HasPrefix(ev[1], "data: ") {
			t.Errorf("sse drain event = %q; want event: reconnect and the packet as data", ev)
		} else if r := checkReconnect(t, "sse", normTime(t, strings.TrimPrefix(ev[1], "data: "))); strconv.Itoa(r) != retry {
			t.Errorf("sse retry: %s but the packet says %d", retry, r)
		}
	}
	expectEOF(t, sse, "sse")

	p := mp.part(boundary)
	if p.header["Content-Type"] != "application/json" {
		t.Errorf("multipart drain part Content-Type = %q; want application/json", p.header["Content-Type"])
	}
	checkReconnect(t, "multipart", normTime(t, p.body))

	out, closed := readUntilQuiet(old, 5*time.Second)
	if !closed {
		t.Errorf("HTTP/1.0 stream not closed by the drain")
	}
	checkReconnect(t, "HTTP/1.0 ndjson", normTime(t, strings.TrimSuffix(out, "\n")))

	select {
	case a := <-pollc:
		if a.status != 204 {
			t.Errorf("waiting long-poll during drain = %d %s; want 204", a.status, a.body)
		}
	case <-time.After(ioTimeout):
		t.Errorf("waiting long-poll not answered by the drain")
	}

	// New subscribers are turned away: refused, closed or 503.
	if c, err := net.DialTimeout("tcp", n.edge, time.Second); err == nil {
		writeAll(t, c, "GET /sub?topic=late HTTP/1.1\r\nHost: x\r\n\r\n")
		out, _ := readUntilQuiet(c, 2*time.Second)
		if st := statusOf(out); st == 200 {
			t.Errorf("subscribe during drain = %q; want 503 or no connection", firstLine(out))
		}
		c.Close()
	}

	if code := n.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	t.Logf("drain took %v (--drain 4s, one stalled reader)", time.Since(start))
}

// TestSIGINTExitsZero: an idle node stops at once on SIGINT with exit 0.
func TestSIGINTExitsZero(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--drain", "30s")
	s := n.subscribe("/sub?topic=i")
	s.packet()
	n.signal(syscall.SIGINT)
	checkReconnect(t, "ndjson on SIGINT", s.packet())
	if code := n.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("exit code after SIGINT = %d; want 0", code)
	}
}

// TestSIGTERMRightAfterStart: a SIGTERM sent as soon as the node says it has
// started is a drain too (exit 0), not death by the default signal action.
func TestSIGTERMRightAfterStart(t *testing.T) {
	t.Parallel()
	for i := 0; i < 5; i++ {
		n := startNode(t)
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := n.waitExit(20 * time.Second); code != 0 {
			t.Fatalf("run %d: SIGTERM right after \"pushwire started\" gave exit code %d; want 0 (signal handler installed after the started line)", i, code)
		}
	}
}
