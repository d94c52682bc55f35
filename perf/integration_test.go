package perf

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

// These tests start real servers on free loopback ports and run short scenarios against
// them with in-process subscriber workers, checking that every message arrived.

func runShort(t *testing.T, target Target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Target: target, N: 200, PerWorker: 100, Messages: 600, Publishes: 5,
		Drain: 3 * time.Second, Log: t.Logf, Pub: PubConfig{Conns: 8}}

	u, err := RunUnicast(ctx, o)
	if err != nil {
		t.Fatalf("unicast: %v", err)
	}
	if u.Connected != 200 || u.Publish.OK != 600 || u.Delivered != 600 || u.Lost != 0 {
		t.Fatalf("unicast: connected %d, accepted %d, delivered %d, lost %d (statuses %v); want 200, 600, 600, 0",
			u.Connected, u.Publish.OK, u.Delivered, u.Lost, u.Publish.Status)
	}
	if u.Latency.Count != 600 || u.Latency.P50 <= 0 || u.CPUPerMsgUS < 0 {
		t.Fatalf("unicast latency %+v; want 600 positive samples", u.Latency)
	}

	o.Pub.Batch = 50
	if target.Kind == KindPushwire {
		b, err := RunUnicast(ctx, o)
		if err != nil {
			t.Fatalf("batch unicast: %v", err)
		}
		if b.Publish.OK != 600 || b.Delivered != 600 || b.Requests() != 12 {
			t.Fatalf("batch unicast: accepted %d, delivered %d in %d requests (statuses %v); want 600, 600, 12",
				b.Publish.OK, b.Delivered, b.Requests(), b.Publish.Status)
		}
	}

	bc, err := RunBroadcast(ctx, o)
	if err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if bc.Publish.OK != 5 || bc.Delivered != 5*200 || bc.Lost != 0 || len(bc.TimeToAllMs) != 5 {
		t.Fatalf("broadcast: accepted %d, delivered %d, lost %d, %d times; want 5, 1000, 0, 5",
			bc.Publish.OK, bc.Delivered, bc.Lost, len(bc.TimeToAllMs))
	}

	// Idle also proves the source-address path (bind 127.0.0.x with IP_BIND_ADDRESS_NO_PORT)
	// that runs beyond ~25k subscribers depend on.
	id, err := RunIdle(ctx, Options{Target: target, N: 200, PerWorker: 50, Settle: 200 * time.Millisecond,
		SpreadSourceIPs: true})
	if err != nil {
		t.Fatalf("idle: %v", err)
	}
	if id.Connected != 200 || id.ServerRSSAfter <= 0 {
		t.Fatalf("idle: connected %d, server RSS %d; want 200 and a reading", id.Connected, id.ServerRSSAfter)
	}
	t.Logf("%s", MarkdownResults([]*Result{u, bc, id}))
}

// TestPushwireEndToEnd builds ./cmd/pushwire, starts it, and checks that unicast (by conn
// key, and batched) and broadcast deliver every message.
func TestPushwireEndToEnd(t *testing.T) { runShortPushwire(t, 0) }

// TestPushwireH2EndToEnd is TestPushwireEndToEnd with the subscribers held as HTTP/2
// streams, 10 on each h2c connection.
func TestPushwireH2EndToEnd(t *testing.T) { runShortPushwire(t, 10) }

// runShortPushwire runs the short scenarios against a fresh standalone pushwire, its
// subscribers h2Streams to an h2c connection (0: HTTP/1.1).
func runShortPushwire(t *testing.T, h2Streams int) {
	bin, err := BuildPushwire("..")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin[:len(bin)-len("/pushwire")])
	s, err := StartPushwire(bin, ServerConfig{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	target := s.Target
	target.H2Streams = h2Streams
	runShort(t, target)
}

// TestPushwireClusterEndToEnd runs two pushwire nodes on one Redis and sends every
// publish to the node that does not hold the subscriber, by conn key and by user.
func TestPushwireClusterEndToEnd(t *testing.T) {
	bin, err := BuildPushwire("..")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin[:len(bin)-len("/pushwire")])
	rd, err := StartRedis(ServerConfig{})
	if err != nil {
		t.Fatalf("redis-server (needed for cluster mode): %v", err)
	}
	defer rd.Stop()
	var nodes []*Server
	for _, id := range []string{"a", "b"} {
		s, err := StartPushwire(bin, ServerConfig{Stderr: os.Stderr,
			Args: []string{"--redis", "redis://" + rd.Target.Edge + "/0", "--node-id", id}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		nodes = append(nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := nodes[0].Target
	target.API = nodes[1].Target.API
	target.Pids = append(target.Pids, nodes[1].Target.Pids...)
	for _, byUser := range []bool{false, true} {
		target.ByUser = byUser
		r, err := RunCluster(ctx, Options{Target: target, N: 200, PerWorker: 200, Messages: 400,
			Drain: 3 * time.Second, Log: t.Logf, Pub: PubConfig{Conns: 8}})
		if err != nil {
			t.Fatalf("cluster (by user %v): %v", byUser, err)
		}
		if r.Connected != 200 || r.Publish.OK != 400 || r.Delivered != 400 || r.Lost != 0 {
			t.Fatalf("cluster (by user %v): connected %d, accepted %d, delivered %d, lost %d (statuses %v); want 200, 400, 400, 0",
				byUser, r.Connected, r.Publish.OK, r.Delivered, r.Lost, r.Publish.Status)
		}
	}
}

// TestNchanEndToEnd drives nginx+Nchan the same way; it needs nginx and libnginx-mod-nchan
// (.ci/run installs them) and fails, not skips, without them.
func TestNchanEndToEnd(t *testing.T) {
	s, err := StartNchan("../../shared/peers/nchan/start.sh", ServerConfig{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	runShort(t, s.Target)
}

// TestPushwireTLSEndToEnd runs the same scenarios with subscribers on --tls-listen
// (Target.TLS: each through a crypto/tls bridge), publishes in plaintext.
func TestPushwireTLSEndToEnd(t *testing.T) { runShort(t, startPushwireTLS(t)) }

// startPushwireTLS starts a standalone pushwire with a test certificate on --tls-listen
// (stopped at the test's end) and returns it as a TLS target.
func startPushwireTLS(t *testing.T) Target {
	t.Helper()
	bin, err := BuildPushwire("..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin[:len(bin)-len("/pushwire")]) })
	certFile, keyFile := testCert(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := "127.0.0.1:" + strconv.Itoa(port)
	s, err := StartPushwire(bin, ServerConfig{Stderr: os.Stderr,
		Args: []string{"--tls-listen", tlsAddr, "--tls-cert", certFile, "--tls-key", keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	target := s.Target
	target.Edge, target.TLS = tlsAddr, true
	return target
}

// testCert writes a test certificate and key for localhost into the test's directory.
func testCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	pair, err := tlstest.New("localhost", false)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = pair.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
