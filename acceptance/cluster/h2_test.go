package cluster_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestQoS1OverH2AcrossNodes: a QoS 1 push for an offline user, taken by node
// a and stored in Redis, is resent when the user connects to node b over
// HTTP/2 (h2c), on one of two streams of one connection: the user's stream
// gets it, the other stream (another user) does not.
func TestQoS1OverH2AcrossNodes(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	r := a.pub("user/h2away", `"kept for h2"`, "Push-QoS", "1", "Content-Type", "application/json")
	if r.status != 202 || !r.Stored {
		t.Fatalf("node a: QoS 1 push to an offline user = %v; want 202 stored", r)
	}
	client := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
	var readers []*bufio.Reader
	for _, user := range []string{"other", "h2away"} {
		resp, err := client.Get("http://" + b.edge + "/sub?user=" + user)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.ProtoMajor != 2 {
			t.Fatalf("subscribe over h2c: %s; want HTTP/2", resp.Proto)
		}
		readers = append(readers, bufio.NewReader(resp.Body))
	}
	next := func(r *bufio.Reader) map[string]any {
		t.Helper()
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			var f map[string]any
			json.Unmarshal([]byte(l), &f)
			if f["protocol"] == 2.0 {
				return f
			}
		}
	}
	if f := next(readers[1]); f["to"] != "user:h2away" || f["data"] != "kept for h2" || f["id"] != r.ID {
		t.Fatalf("node b's h2 stream got %v; want the stored message id %s", f, r.ID)
	}
	// A live push to the other user after the replay: the other stream's
	// first message is that one, not the stored one.
	b.mustPub("user/other", `"live"`, 1, 1, "Content-Type", "application/json")
	if f := next(readers[0]); f["to"] != "user:other" || !strings.Contains(f["data"].(string), "live") {
		t.Fatalf("the other stream got %v; want only its own live push", f)
	}
}

// subscribeH2 opens GET /sub?<query> on n's edge as a stream of an h2c
// connection of its own (x/net/http2's client), as (*node).subscribe does
// over HTTP/1.1: 200, a Push-Conn key, the registered packet. The stream's
// conn is the TCP connection, so read deadlines and Close work as for a
// raw stream.
func (n *node) subscribeH2(query string) *stream {
	n.t.Helper()
	s := &stream{t: n.t, node: n.id}
	client := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			s.conn = c
			return c, err
		}}}
	resp, err := client.Get("http://" + n.edge + "/sub?" + query)
	if err != nil {
		n.t.Fatalf("node %s: subscribe %s over h2c: %v", n.id, query, err)
	}
	n.t.Cleanup(func() { s.conn.Close() })
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		n.t.Fatalf("node %s: subscribe %s: %s %d; want HTTP/2 200", n.id, query, resp.Proto, resp.StatusCode)
	}
	s.key = resp.Header.Get("Push-Conn")
	s.body = bufio.NewReader(resp.Body)
	if f, err := s.read(); err != nil || f.State != "registered" || f.Conn != s.key {
		n.t.Fatalf("node %s: first packet %+v, %v; want the registered packet for %s", n.id, f, err, s.key)
	}
	return s
}

// TestQoS1RedisRestartOnlineH2 is TestQoS1RedisRestartOnline with the
// user's stream on HTTP/2: the re-sync after Redis comes back empty holds
// and replays HTTP/2 streams as it does HTTP/1.1 ones, so every message
// answered 200 or 202 arrives, in order, once (or flagged as a resend).
func TestQoS1RedisRestartOnlineH2(t *testing.T) {
	t.Parallel()
	redisRestartOnlineVia(t, true, (*node).subscribeH2)
}
