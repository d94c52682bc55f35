package handoff

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketsFor opens n connected TCP pairs over loopback and returns the server ends' fds
// (what the old process would hand over) and the client conns.
func socketsFor(t *testing.T, n int) ([]int, []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var fds []int
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.(*net.TCPConn).File() // a duplicate; s can close
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		clients = append(clients, c)
		t.Cleanup(func() { c.Close(); unix.Close(fd) })
	}
	return fds, clients
}

// TestHandoffOverSocket passes 600 connections (three descriptor batches, the first two full)
// and a listener with their records, then the ready/go handshake; each received descriptor
// is proven to be its connection by writing through it to the client.
func TestHandoffOverSocket(t *testing.T) {
	const n = 600
	fds, clients := socketsFor(t, n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, _ := ln.(*net.TCPListener).File()
	defer lf.Close()

	old, newSide := pairConns(t)

	deadline := time.Now().Add(30 * time.Second)
	sent := make(chan error, 1)
	go func() {
		s := NewSender(old, deadline)
		err := s.AwaitStarted()
		if err == nil {
			err = s.Hello(Meta{NodeID: "node-a", Seq: 12345, Version: "v1", Boundary: "pushwire-b", Upgrades: 3, UpgradesFailed: 4, UpgradeReconnects: 5,
				TicketKeys: [][32]byte{{1, 2, 3}, {31: 9}}, Loops: []LoopMarks{{Slots: 1024, Streams: 256}, {Slots: 7, Streams: 0}}})
		}
		if err == nil {
			err = s.Add(&Record{Kind: KindListener, Listener: Listener{Tag: 0}}, int(lf.Fd()))
		}
		for i := 0; i < n && err == nil; i++ {
			r := Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1), User: fmt.Appendf(nil, "user%d", i),
				Pending: []byte(strings.Repeat("x", i*200))}} // records span data packets
			err = s.Add(&r, fds[i])
			if i%100 == 0 && err == nil { // records without a descriptor, between those with one
				st := sampleStored()
				err = s.Add(&st, -1)
			}
			if i%100 == 2 && err == nil {
				m := sampleIdem()
				err = s.Add(&m, -1)
			}
			if i%100 == 1 && err == nil { // an HTTP/2 conn's state follows its conn record
				h := sampleH2()
				h.H2.Handle = uint64(i + 1)
				err = s.Add(&h, -1)
			}
		}
		if err == nil {
			err = s.EndWith(6) // connections told to reconnect after the hello
		}
		if err == nil {
			err = s.AwaitReady()
		}
		if err == nil {
			err = s.Go()
		}
		sent <- err
	}()

	if err := Started(newSide, deadline); err != nil {
		t.Fatal(err)
	}
	got, err := Receive(newSide, deadline)
	if err != nil {
		t.Fatalf("Receive = %v", err)
	}
	defer got.Close()
	if got.NodeID != "node-a" || got.Seq != 12345 || got.Version != "v1" || got.Boundary != "pushwire-b" || got.Upgrades != 3 || got.UpgradesFailed != 4 || got.UpgradeReconnects != 5 ||
		len(got.TicketKeys) != 2 || got.TicketKeys[0] != [32]byte{1, 2, 3} || got.TicketKeys[1] != [32]byte{31: 9} ||
		len(got.Loops) != 2 || got.Loops[0] != (LoopMarks{Slots: 1024, Streams: 256}) || got.Loops[1] != (LoopMarks{Slots: 7}) {
		t.Errorf("meta = %+v", got.Meta)
	}
	if len(got.Stored) != n/100 || string(got.Stored[0].Data) != `{"a":1}` {
		t.Errorf("received %d stored messages; want %d", len(got.Stored), n/100)
	}
	if got.EndReconnects != 6 {
		t.Errorf("end carried %d reconnects; want 6", got.EndReconnects)
	}
	if len(got.Idem) != n/100 || string(got.Idem[0].Key) != "order-1" || string(got.Idem[0].Answer) != `{"id":"1"}` {
		t.Errorf("received %d idempotency keys (first %+v); want %d", len(got.Idem), got.Idem, n/100)
	}
	if len(got.H2) != n/100 || got.H2[0].Handle != 2 || len(got.H2[0].Streams) != 2 || string(got.H2[0].Streams[0].Sub.User) != "alice" {
		t.Errorf("received %d HTTP/2 records (first %+v); want %d, each with two streams", len(got.H2), got.H2, n/100)
	}
	if len(got.Listeners) != 1 || len(got.Conns) != n {
		t.Fatalf("received %d listeners and %d conns; want 1 and %d", len(got.Listeners), len(got.Conns), n)
	}
	if err := Ready(newSide, deadline); err != nil {
		t.Fatalf("Ready = %v; want go", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	for i, c := range got.Conns {
		if c.Handle != uint64(i+1) || string(c.User) != fmt.Sprintf("user%d", i) || len(c.Pending) != i*200 {
			t.Fatalf("conn %d: handle %d user %q pending %d", i, c.Handle, c.User, len(c.Pending))
		}
		writesThrough(t, c.FD, clients[i], i)
	}
	// The listener came across: a dial reaches the received socket's accept queue.
	if ok, err := acceptsOn(got.Listeners[0].FD, ln.Addr().String()); !ok {
		t.Errorf("received listener does not accept: %v", err)
	}
}

func acceptsOn(fd int, addr string) (bool, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	for range 100 {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK)
		if err == nil {
			unix.Close(nfd)
			return true, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false, errors.New("nothing to accept")
}

// TestAbortBothWays: the new side's abort reaches AwaitReady with its reason; the old side's
// abort reaches Ready.
func TestAbortBothWays(t *testing.T) {
	old, nc := pairConns(t)
	deadline := time.Now().Add(10 * time.Second)

	s := NewSender(old, deadline)
	if err := s.Hello(Meta{NodeID: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	if _, err := Receive(nc, deadline); err != nil {
		t.Fatalf("Receive(empty handoff) = %v", err)
	}
	if err := Abort(nc, "cannot bind the api"); err != nil {
		t.Fatal(err)
	}
	if err := s.AwaitReady(); !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "cannot bind the api") {
		t.Errorf("AwaitReady after the new side's abort = %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- Ready(nc, deadline) }()
	if err := s.AwaitReady(); err != nil {
		t.Fatalf("AwaitReady = %v", err)
	}
	Abort(old, "late write")
	if err := <-done; !errors.Is(err, ErrAborted) {
		t.Errorf("Ready after the old side's abort = %v; want ErrAborted", err)
	}
}

// TestNewSideGone: the new process closing its end (exit, crash) is an error for AwaitReady,
// not a hang.
func TestNewSideGone(t *testing.T) {
	old, child, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	child.Close()
	s := NewSender(old, time.Now().Add(10*time.Second))
	if err := s.AwaitReady(); err == nil {
		t.Fatal("AwaitReady with the other end closed = nil; want an error")
	}
}

// TestReceiveRejects: a stream whose end does not match what came is refused and every
// descriptor received is closed.
func TestReceiveRejects(t *testing.T) {
	fds, _ := socketsFor(t, 2)
	old, nc := pairConns(t)
	deadline := time.Now().Add(10 * time.Second)
	go func() {
		s := NewSender(old, deadline)
		s.Hello(Meta{NodeID: "n"})
		s.Add(&Record{Kind: KindConn}, fds[0])
		s.flush()
		// A descriptor with no record, then end.
		old.WriteMsgUnix([]byte{pFDs, 1, 0}, unix.UnixRights(fds[1]), nil)
		s.nConn = 2
		s.End()
	}()
	if _, err := Receive(nc, deadline); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Receive(descriptor without record) = %v; want ErrProtocol", err)
	}
}

// pairConns makes a handoff socket pair, both ends as conns, closed when the test ends.
func pairConns(t *testing.T) (old, newSide *net.UnixConn) {
	t.Helper()
	old, child, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	newSide, err = FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { newSide.Close() })
	return old, newSide
}
