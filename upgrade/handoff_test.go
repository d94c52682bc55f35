package upgrade_test

import (
	"errors"
	"github.com/pushwire/pushwire/server"
	"net"
	"strings"
	"testing"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

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
