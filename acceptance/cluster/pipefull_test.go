package cluster_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPipelinedRefusalBehindFullQueue: one write holds 64 publishes to a
// user on another node (a connection's whole answer queue, pipeline.go's
// maxInFlight) and then a malformed request. Every publish is answered 200,
// in order, then the refusal 400, and then the connection closes. The
// refusal once took a slot of the full queue, overwriting the oldest
// publish's: the connection hung with no answer after the 64th, or the 400
// came first.
func TestPipelinedRefusalBehindFullQueue(t *testing.T) {
	t.Parallel()
	const inFlight = 64
	sub, _, r := pipedToNodeB(t, "full", inFlight, "POST /pub/user/full HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n")
	expectStatuses(t, r, inFlight, 400)
	if extra, err := r.ReadByte(); err != io.EOF {
		t.Errorf("after the 400: %q, %v; want the connection closed", extra, err)
	}
	for range inFlight {
		sub.expect("user:full", "1")
	}
}

// TestPipelinedContinueAfterEarlierAnswers: publishes to a user on another
// node in flight, then the head of a publish with Expect: 100-continue. The
// interim 100 Continue comes after the earlier publishes' answers, not
// ahead of them (a client reads it as the next answer); the body sent then
// is published and answered 200.
func TestPipelinedContinueAfterEarlierAnswers(t *testing.T) {
	t.Parallel()
	const before = 8
	sub, c, r := pipedToNodeB(t, "cont", before, "POST /pub/user/cont HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
	expectStatuses(t, r, before, 100)
	if _, err := c.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the answer after the body: %v, %v; want 200", resp, err)
	}
	for range before {
		sub.expect("user:cont", "1")
	}
	sub.expect("user:cont", "2")
}

// pipedToNodeB starts nodes a and b, a stream of user on a, and writes, in
// one write on a connection to b's api, n publishes to user then last. It
// returns the stream, the connection (closed when the test ends) and its
// reader, under a hang guard.
func pipedToNodeB(t *testing.T, user string, n int, last string) (*stream, net.Conn, *bufio.Reader) {
	t.Helper()
	cl := startCluster(t, 2, 15*time.Second)
	a, b := cl.nodes[0], cl.nodes[1]
	sub := a.subscribe("user=" + user)
	b.waitDelivered("user/"+user, 1, 1, ioTimeout)
	var w strings.Builder
	for range n {
		w.WriteString(pubReq("/pub/user/"+user, "1").raw)
	}
	w.WriteString(last)
	c, err := net.DialTimeout("tcp", b.api, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(w.String())); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout)) // a hang guard
	return sub, c, bufio.NewReader(c)
}

// expectStatuses reads n answers 200, then one answer last.
func expectStatuses(t *testing.T, r *bufio.Reader, n, last int) {
	t.Helper()
	for i := 0; i <= n; i++ {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("answer %d: %v; want %d x 200 then %d", i+1, err, n, last)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := 200
		if i == n {
			want = last
		}
		if resp.StatusCode != want {
			t.Fatalf("answer %d = %d; want %d x 200 then %d", i+1, resp.StatusCode, n, last)
		}
	}
}
