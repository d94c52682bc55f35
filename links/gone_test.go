package links

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// A peer whose process is gone (its port refuses dials) fails pushes with ErrNodeGone, and
// a process back at that address takes pushes again without anyone resetting the link.
func TestLinkRefusedMarksNodeGoneUntilADialWorks(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	b := startNode(t, store, "b", rec.handle)
	a := newLinks(t, store, "a", LinkOptions{BackoffMax: 100 * time.Millisecond})
	if _, err := a.Forward(bg, "b", &Push{ID: "warm", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	b.srv.Close() // the listener and the link go: later dials are refused
	var err error
	for range 3 {
		_, err = a.Forward(bg, "b", &Push{ID: "lost"})
	}
	if !errors.Is(err, ErrNodeGone) || !errors.Is(err, ErrLinkDown) {
		t.Fatalf("Forward to a peer whose port refuses = %v; want ErrNodeGone (an ErrLinkDown)", err)
	}
	if s := a.Stats(); s.Gone != 1 {
		t.Errorf("Stats().Gone = %d; want 1 (counted once per outage)", s.Gone)
	}

	ln, lerr := net.Listen("tcp", b.addr)
	if lerr != nil {
		t.Fatalf("listen again on %s: %v", b.addr, lerr)
	}
	srv := NewLinkServer(rec.handle, LinkServerOptions{Logger: quiet})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := a.Forward(bg, "b", &Push{ID: "back", Data: []byte("xy")})
		if err == nil && r.Delivered == 2 {
			break
		}
		if !errors.Is(err, ErrNodeGone) {
			t.Fatalf("Forward while the peer comes back = %+v, %v; want ErrNodeGone until it works", r, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Forward still %v 10s after the peer came back", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A reset connection (the peer's kernel answers RST for a killed process) is as good a sign.
func TestRefusedOrResetIsGone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if !refusedOrReset(err) {
		t.Errorf("refusedOrReset(%v) = false; want true for a refused dial", err)
	}
	if refusedOrReset(errors.New("i/o timeout")) {
		t.Error("refusedOrReset(timeout) = true; want false: a partition says nothing of the process")
	}
}
