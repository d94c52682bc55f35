package acceptance

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestH2BroadcastBurstOnOneConnection: one HTTP/2 connection carries 100
// subscribers of a topic, and one publish puts a 2 KiB frame on each of its
// streams in one loop iteration — 200 KiB, three times --write-buffer-limit.
// The client reads at once, so nothing is cut as a slow consumer and every
// stream gets the message (the engine's burst allowance, engine/backpressure.go).
func TestH2BroadcastBurstOnOneConnection(t *testing.T) {
	t.Parallel()
	const streams = 100
	n := startNode(t, "--write-buffer-limit", "64KiB")
	client := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
	var readers []*bufio.Reader
	for range streams {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.edge+"/sub?topic=burst&format=sse", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		readers = append(readers, bufio.NewReader(resp.Body))
	}
	waitSubscribers(t, n, streams)
	if got := n.stats()["h2_connections"]; got != 1 {
		t.Fatalf("h2_connections = %v; want 1 (all streams on one connection)", got)
	}
	payload := strings.Repeat("b", 2<<10)
	res := n.mustPub(200, "topic/burst", payload)
	if string(res["delivered"]) != "100" {
		t.Fatalf("delivered %s; want 100", res["delivered"])
	}
	for i, r := range readers {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v before the broadcast (slow_consumers %v)", i, err, n.stats()["slow_consumers"])
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, payload) {
				break
			}
		}
	}
	if st := n.stats(); st["slow_consumers"] != 0 || st["connections"] != streams {
		t.Errorf("/stats slow_consumers %v, connections %v; want 0 and %d", st["slow_consumers"], st["connections"], streams)
	}
}
