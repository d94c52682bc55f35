package upgrade_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

// testNode starts a node on free loopback ports (changed by mutate if not nil)
// and closes it at the test's end.
func testNode(tb testing.TB, mutate func(*server.Config)) *server.Server {
	s, err := server.New(nodetest.Config(mutate))
	return nodetest.Started(tb, s, err)
}

// TestTakeOverRefusesCorruptTLSState: a handoff whose TLS connection record carries a state
// that describes no connection is refused with a clear error by the new process, which aborts
// the handoff (the old process's AwaitReady sees the reason, and it keeps its connections);
// nothing panics.
func TestTakeOverRefusesCorruptTLSState(t *testing.T) {
	certFile, keyFile, err := tlstest.NewFiles(t.TempDir(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	withTLS := func(cfg *server.Config) {
		cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
	}
	awaitErr, takeErr := takeOverWith(t, withTLS, func(snd *handoff.Sender, _ *net.UnixConn) error {
		if err := snd.Hello(testMeta()); err != nil {
			return err
		}
		for _, l := range []struct {
			tag int
			tls bool
		}{{edge.ListenerAPI, false}, {edge.ListenerEdge, false}, {edge.ListenerEdge, true}} {
			snd.Add(&handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(l.tag), TLS: l.tls}}, listenerFD(t))
		}
		conn := handoff.Record{Kind: handoff.KindConn, Conn: handoff.Conn{
			Handle: uint64(engine.Handle(1<<32 | 1)), Listener: edge.ListenerEdge, Mode: uint8(edge.ModeRequest),
			Transport: handoff.TransportTLS, State: []byte{0, 0, 0, 0, 1, 3, 4, 0, 0},
		}}
		if err := snd.Add(&conn, listenerFD(t)); err != nil {
			return err
		}
		return snd.End()
	})
	if !errors.Is(awaitErr, handoff.ErrAborted) || !strings.Contains(awaitErr.Error(), "unusable connection state") {
		t.Errorf("the old side's AwaitReady = %v; want the new side's abort naming the unusable state", awaitErr)
	}
	if takeErr == nil || !strings.Contains(takeErr.Error(), "connection 0") {
		t.Errorf("TakeOver = %v; want an error naming connection 0", takeErr)
	}
}

// testMeta is an old side's hello: node node-a, with room for every connection slot and
// stream record the tests name on two loops.
func testMeta() handoff.Meta {
	marks := handoff.LoopMarks{Slots: 1024, Streams: 1024}
	return handoff.Meta{NodeID: "node-a", Boundary: "b", Loops: []handoff.LoopMarks{marks, marks}}
}

// listenerFD returns the descriptor of a fresh loopback listener (closed at the test's end;
// the handoff sends a duplicate).
func listenerFD(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// TestHandOffTellsTooLargeStreamToReconnect (review 7, finding 5): a connection whose record
// is over a handoff bound (here a stream given more topics than a record carries, past the
// bound server-side subscribes keep) cannot move; it alone stays in the old process and gets
// the reconnect frame (counted in upgrade_reconnects), and the handoff moves every other
// connection. It used to stop its loop's export and fail the whole upgrade, at every SIGUSR2.
func TestHandOffTellsTooLargeStreamToReconnect(t *testing.T) {
	old := testNode(t, nil)
	big, bigKey := subscribeNDJSON(t, old, "big")
	small, _ := subscribeNDJSON(t, old, "small")
	if !old.JoinTopics(bigKey, handoff.MaxTopics) {
		t.Fatal("JoinTopics: no such stream")
	}
	next := handOffTo(t, old, nil)
	if line := readUntil(t, big, "reconnect"); line == "" {
		t.Error("the stream too large to move got no reconnect frame")
	}
	nodetest.Pub(t, next.APIAddr(), "/pub/topic/small", "after")
	if line := readUntil(t, small, "after"); line == "" {
		t.Error("the other stream did not get a publish to the new process")
	}
	if _, _, reconnects, _ := next.Figures(); reconnects != 1 {
		t.Errorf("upgrade_reconnects in the new process = %d; want 1", reconnects)
	}
}

// handOffTo hands old's listeners and connections to a new server in this process (its
// configuration changed by tweak if not nil) and returns it, serving. old is left as an old
// process is after go: it touches no socket (and closes its own descriptors at the test's end).
func handOffTo(t *testing.T, old *server.Server, tweak func(*server.Config)) *server.Server {
	t.Helper()
	next, err := server.New(nodetest.Config(tweak))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	oldEnd, newEnd := handoffPair(t)
	deadline := time.Now().Add(20 * time.Second)
	took := make(chan error, 1)
	go func() { _, err := next.TakeOver(newEnd, deadline); took <- err }()
	if err := old.HandOff(oldEnd, deadline); err != nil {
		t.Fatalf("HandOff = %v; want every connection that can move handed over", err)
	}
	if err := <-took; err != nil {
		t.Fatalf("TakeOver = %v", err)
	}
	return next
}

// subscribeNDJSON opens an ndjson stream of topic on s and returns its reader (past the
// response head) and its conn key.
func subscribeNDJSON(t *testing.T, s *server.Server, topic string) (*bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("tcp", s.EdgeAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /sub?topic=%s&format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n", topic)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe %s = %v, %v", topic, resp, err)
	}
	return br, resp.Header.Get("Push-Conn")
}

// readUntil reads r's lines until one contains want and returns it; "" at an error (the
// connection's deadline).
func readUntil(t *testing.T, r *bufio.Reader, want string) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Logf("reading for %q: %v", want, err)
			return ""
		}
		if strings.Contains(line, want) {
			return line
		}
	}
}

// TestTakeOverFailedAcceptsNoPeerLink (review 7, finding 13): a takeover serves the cluster
// link listener handed over only after go, so one that fails after it joined the cluster (here
// the old process aborts after ready, as on a late write) has accepted no peer's link: a peer
// that dialled meanwhile still waits in the shared accept queue, and the old process, which
// carries on, accepts it. It used to be accepted by the failing process and reset when it
// exited (the node gone for routing until the peer redialled).
func TestTakeOverFailedAcceptsNoPeerLink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the old process's link listener
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	peer, err := net.Dial("tcp", ln.Addr().String()) // a peer's link, in the accept queue
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	withCluster := func(cfg *server.Config) { cfg.MemStore, cfg.ClusterListen = cluster.NewMemStore(), "127.0.0.1:0" }
	awaitErr, takeErr := takeOverWith(t, withCluster, func(snd *handoff.Sender, _ *net.UnixConn) error {
		if err := snd.Hello(testMeta()); err != nil {
			return err
		}
		snd.Add(&handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: 2}}, int(lf.Fd())) // the link listener
		for _, tag := range []int{edge.ListenerAPI, edge.ListenerEdge} {
			snd.Add(&handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(tag)}}, listenerFD(t))
		}
		return snd.End()
	})
	if awaitErr != nil || takeErr == nil {
		t.Fatalf("AwaitReady = %v, TakeOver = %v; want ready, then the old side's abort", awaitErr, takeErr)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(2 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the old process's link listener: Accept = %v; want the peer's link, still queued (the failed takeover accepted it)", err)
	}
	defer c.Close()
	peer.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 1 {
		t.Errorf("the peer's link, accepted by the old process: read %d, %v; want its byte", n, err)
	}
}

// TestHandOffTakesPeersPushesUntilStarted (review 7, finding 8): while the new binary starts
// (before it says started) the old process serves everything, peers' pushes included: the
// gate that refuses them closes only once the new process is up. It used to close at
// SIGUSR2, refusing every push for the whole start-up (~200 ms, more with -race).
func TestHandOffTakesPeersPushesUntilStarted(t *testing.T) {
	s := testNode(t, nil)
	old, newSide := handoffPair(t)
	handed := make(chan error, 1)
	go func() { handed <- s.HandOff(old, time.Now().Add(10*time.Second)) }()
	nodetest.WaitFor(t, "the handoff to start", func() bool { _, _, _, active := s.Figures(); return active })
	time.Sleep(100 * time.Millisecond) // the old side now waits for started
	if refusal := s.AdmitTake(); refusal != "" {
		t.Errorf("a peer's push while the new binary starts: refused %q; want taken", refusal)
	} else {
		s.TakeDone()
	}
	handoff.Abort(newSide, "test: the new binary failed to start")
	if err := <-handed; err == nil {
		t.Fatal("HandOff = nil after the new process's abort; want an error")
	}
	if refusal := s.AdmitTake(); refusal != "" {
		t.Errorf("a peer's push after the failed handoff: refused %q; want taken", refusal)
	} else {
		s.TakeDone()
	}
}
