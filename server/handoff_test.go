package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

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
	cfg := DefaultConfig()
	cfg.Listen, cfg.APIListen, cfg.TLSListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, child, err := handoff.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	newSide, err := handoff.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer newSide.Close()
	deadline := time.Now().Add(10 * time.Second)
	took := make(chan error, 1)
	go func() { _, err := s.TakeOver(newSide, deadline); took <- err }()

	snd := handoff.NewSender(old, deadline)
	if err := snd.AwaitStarted(); err != nil {
		t.Fatal(err)
	}
	if err := snd.Hello(handoff.Meta{NodeID: "node-a", Boundary: "b"}); err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	if err := snd.End(); err != nil {
		t.Fatal(err)
	}
	err = snd.AwaitReady()
	if !errors.Is(err, handoff.ErrAborted) || !strings.Contains(err.Error(), "unusable connection state") {
		t.Errorf("the old side's AwaitReady = %v; want the new side's abort naming the unusable state", err)
	}
	if err := <-took; err == nil || !strings.Contains(err.Error(), "connection 0") {
		t.Errorf("TakeOver = %v; want an error naming connection 0", err)
	}
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
