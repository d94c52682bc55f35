package perf

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func startFloor(t *testing.T) *Floor {
	t.Helper()
	f, err := StartFloorServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("floor: %v", err)
		}
	})
	return f
}

// floorSubscribe opens a subscriber with GET path and reads the stream head.
func floorSubscribe(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: floor\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	head := make([]byte, len(floorHead))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != string(floorHead) {
		t.Fatalf("subscriber %s: head %q, %v; want %q", path, head, err, floorHead)
	}
	return c, r
}

func post(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: floor\r\ncontent-length: %d\r\n\r\n%s", path, len(body), body)
}

// readUntil reads frames until one equals last and returns them all, last included.
func readUntil(t *testing.T, r *bufio.Reader, last string) []string {
	t.Helper()
	var got []string
	for {
		var frame []byte
		for !strings.HasSuffix(string(frame), "\n\n") {
			line, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("after frames %q: %v", got, err)
			}
			frame = append(frame, line...)
		}
		got = append(got, string(frame))
		if string(frame) == last {
			return got
		}
	}
}

// TestFloorBroadcastAndUnicast: subscribers receive exactly their frames, in order, and
// the publisher exactly one fixed answer per request, pipelined and split across writes.
func TestFloorBroadcastAndUnicast(t *testing.T) {
	f := startFloor(t)
	const n = 5
	subs := make([]*bufio.Reader, n)
	for i := range subs {
		_, subs[i] = floorSubscribe(t, f.Addr(), fmt.Sprintf("/sub/pbx%d", i))
	}
	pub, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_ = pub.SetDeadline(time.Now().Add(20 * time.Second))
	// Unicast to 3 and 1, a broadcast, unicast to 3 again, one to an index nobody holds,
	// and a closing broadcast: all pipelined in one write but the last, which arrives in
	// two pieces split inside its head.
	reqs := post("/pub/pbx3", "u3a") + post("/pub/pbx1", "u1") + post("/pub/all", "b1") +
		post("/pub/pbx3", "u3b") + post("/pub/pbx99", "nobody")
	last := post("/pub/all", "end")
	if _, err := io.WriteString(pub, reqs+last[:20]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // lets the first piece be read on its own; no assertion depends on it
	if _, err := io.WriteString(pub, last[20:]); err != nil {
		t.Fatal(err)
	}
	answers := make([]byte, 6*len(floorOK))
	if _, err := io.ReadFull(pub, answers); err != nil || string(answers) != strings.Repeat(string(floorOK), 6) {
		t.Fatalf("answers %q, %v; want 6 × %q", answers, err, floorOK)
	}
	want := map[int][]string{
		0: {"data: b1\n\n", "data: end\n\n"},
		1: {"data: u1\n\n", "data: b1\n\n", "data: end\n\n"},
		2: {"data: b1\n\n", "data: end\n\n"},
		3: {"data: u3a\n\n", "data: b1\n\n", "data: u3b\n\n", "data: end\n\n"},
		4: {"data: b1\n\n", "data: end\n\n"},
	}
	for i, r := range subs {
		if got := readUntil(t, r, "data: end\n\n"); fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("subscriber %d got %q; want %q", i, got, want[i])
		}
	}
}

// TestFloorSubscriberLeaves: a closed subscriber gets nothing more, the others keep
// receiving, and a newer subscriber with the same index takes its unicasts.
func TestFloorSubscriberLeaves(t *testing.T) {
	f := startFloor(t)
	c0, _ := floorSubscribe(t, f.Addr(), "/sub/a0")
	_, r1 := floorSubscribe(t, f.Addr(), "/sub/a1")
	_, r2 := floorSubscribe(t, f.Addr(), "/sub/a2")
	c0.Close()
	pub, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_ = pub.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(pub)
	publish := func(reqs ...string) {
		t.Helper()
		if _, err := io.WriteString(pub, strings.Join(reqs, "")); err != nil {
			t.Fatal(err)
		}
		ans := make([]byte, len(reqs)*len(floorOK))
		if _, err := io.ReadFull(br, ans); err != nil || string(ans) != strings.Repeat(string(floorOK), len(reqs)) {
			t.Fatalf("answers %q, %v", ans, err)
		}
	}
	// Writes to the closed subscriber may succeed once before the kernel reports the
	// reset, or fail and drop it: either way the others get exactly the broadcasts.
	for i := range 3 {
		publish(post("/pub/a0", "gone"), post("/pub/all", fmt.Sprint("b", i)))
		for _, r := range []*bufio.Reader{r1, r2} {
			if got := readUntil(t, r, fmt.Sprintf("data: b%d\n\n", i)); len(got) != 1 {
				t.Fatalf("round %d: got %q; want only the broadcast", i, got)
			}
		}
	}
	_, r0 := floorSubscribe(t, f.Addr(), "/sub/b0")
	publish(post("/pub/x0", "new0"), post("/pub/all", "end"))
	if got := readUntil(t, r0, "data: end\n\n"); fmt.Sprint(got) != fmt.Sprint([]string{"data: new0\n\n", "data: end\n\n"}) {
		t.Fatalf("new subscriber at index 0 got %q", got)
	}
	if got := readUntil(t, r1, "data: end\n\n"); len(got) != 1 {
		t.Fatalf("subscriber 1 got %q; want only the broadcast", got)
	}
}

// TestFloorBadRequests: what the floor cannot frame gets a 400 and the connection closed.
func TestFloorBadRequests(t *testing.T) {
	f := startFloor(t)
	for _, req := range []string{
		"POST /pub/all HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /pub/all HTTP/1.1\r\nContent-Length: x1\r\n\r\n",
		"POST /pub/all HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
		"GET /sub/99999999 HTTP/1.1\r\n\r\n",
		strings.Repeat("x", 70<<10),
	} {
		c, err := net.Dial("tcp", f.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.WriteString(c, req)
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != string(floorBad) {
			t.Errorf("%.40q: got %q, %v; want %q then close", req, got, err, floorBad)
		}
	}
}

// TestFloorEndToEnd runs pushbench's own scenarios against the floor: every message of
// unicast (each subscriber addressed by the number its id ends in) and broadcast arrives.
func TestFloorEndToEnd(t *testing.T) {
	f := startFloor(t)
	// The floor runs in this process: RSS and CPU are the test's, read but not judged.
	runShort(t, Target{Kind: KindFloor, Edge: f.Addr(), API: f.Addr(), Format: FormatSSE, Pids: []int{os.Getpid()}})
}

// TestFloorServerProcess runs the floor as the suite does, "pushbench floor-server" in its
// own process, and checks that it serves a subscriber and stops on SIGTERM.
func TestFloorServerProcess(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/pushbench", "../cmd/pushbench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pushbench: %v\n%s", err, out)
	}
	s, err := StartFloor(dir+"/pushbench", ServerConfig{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Target.Kind != KindFloor || len(s.Target.Pids) != 1 {
		t.Fatalf("target %+v; want the floor with its pid", s.Target)
	}
	_, r := floorSubscribe(t, s.Target.Edge, "/sub/p7")
	pub, err := net.Dial("tcp", s.Target.API)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_ = pub.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(pub, post("/pub/p7", "one")+post("/pub/all", "two")); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, r, "data: two\n\n"); fmt.Sprint(got) != fmt.Sprint([]string{"data: one\n\n", "data: two\n\n"}) {
		t.Fatalf("got %q", got)
	}
	s.Stop()
	if !s.Exited() {
		t.Fatal("floor-server still running after Stop")
	}
}
