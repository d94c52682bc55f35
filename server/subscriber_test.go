package server

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/subscribe"
)

// onLoop runs fn on loop i and waits for it.
func onLoop(t *testing.T, s *Server, i int, fn func(l *engine.Loop, ls *loopState)) {
	t.Helper()
	done := make(chan struct{})
	s.Eng.Submit(i, engine.Task{Op: edge.OpRun, V: func(l *engine.Loop) { fn(l, s.loops[i]); close(done) }})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run the task within 10s")
	}
}

// edgeConnOf finds the one edge connection of s on its loop.
func edgeConnOf(t *testing.T, s *Server) (int, engine.Handle) {
	t.Helper()
	return connOf(t, s, edge.ListenerEdge)
}

// connOf finds the one connection of s's listener on its loop.
func connOf(t *testing.T, s *Server, listener uint8) (int, engine.Handle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i := range s.loops {
			var found engine.Handle
			onLoop(t, s, i, func(_ *engine.Loop, ls *loopState) {
				for _, page := range ls.Pages {
					for j := range page {
						if c := &page[j]; c.H != 0 && c.Listener == listener {
							found = c.H
						}
					}
				}
			})
			if found != 0 {
				return i, found
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the connection of listener %d never showed up on a loop", listener)
	return 0, 0
}

// TestTwoSubscribersOnOneConnection registers two subscribers on one
// connection through the internal API (stream records, as HTTP/2 streams
// get), pushes to each by conn key, user and topic, and checks that each
// gets its own frames, that a topic both joined reaches both, and that
// freeing one leaves the other.
func TestTwoSubscribersOnOneConnection(t *testing.T) {
	s := testNode(t, nil)
	c, err := net.Dial("tcp", s.EdgeAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	loop, h := edgeConnOf(t, s)

	var subs [2]conntable.Sub
	onLoop(t, s, loop, func(l *engine.Loop, ls *loopState) {
		for i, name := range []string{"a", "b"} {
			q := &edge.QueryParams{User: []byte("user-" + name), Topics: [][]byte{[]byte("topic-" + name), []byte("both")}}
			sub, st := ls.OpenStream(h, uint32(2*i+1), edge.FramingRaw, q)
			var key [edge.KeyTextLen + 65]byte
			keyText := ls.s.AppendKeyText(key[:0], ls.KeyOf(sub))
			ls.StartStream(l, sub, &st.SubState, h, &subscribe.Subscription{Q: q, Format: push.NDJSON}, keyText)
			subs[i] = sub
		}
	})
	if subs[0] == subs[1] || !subs[0].IsStream() || subs[0].Loop() != loop {
		t.Fatalf("subscribers %#x, %#x: want two distinct stream subscribers of loop %d", subs[0], subs[1], loop)
	}
	var keys [2]string
	for i := range keys {
		f := nodetest.ReadFrame(t, r)
		if f.State != "registered" {
			t.Fatalf("frame %d = %+v; want the registered frame", i, f)
		}
		keys[i] = f.Conn
	}
	if keys[0] == keys[1] {
		t.Fatalf("both subscribers got key %s; want one key each", keys[0])
	}

	for i, name := range []string{"a", "b"} {
		for _, to := range []string{"conn/" + keys[i], "user/user-" + name, "topic/topic-" + name} {
			if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/"+to, "for "+name); status != 200 || n != 1 {
				t.Fatalf("publish to %s = %d, delivered %d; want 200, 1", to, status, n)
			}
			f := nodetest.ReadFrame(t, r)
			want := strings.Replace(to, "/", ":", 1)
			if f.Protocol != 2 || f.To != want || f.Data != "for "+name {
				t.Fatalf("after publishing to %s the connection read %+v; want that one message", to, f)
			}
		}
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/both", "both"); status != 200 || n != 2 {
		t.Fatalf("publish to topic both = %d, delivered %d; want 200, 2 (one per subscriber)", status, n)
	}
	for range 2 {
		if f := nodetest.ReadFrame(t, r); f.To != "topic:both" {
			t.Fatalf("read %+v; want topic:both once per subscriber", f)
		}
	}

	onLoop(t, s, loop, func(l *engine.Loop, ls *loopState) { ls.DropStream(l, subs[0]) })
	for _, to := range []string{"conn/" + keys[0], "user/user-a"} {
		if status, _ := nodetest.Pub(t, s.APIAddr(), "/pub/"+to, "gone"); status != 404 {
			t.Fatalf("publish to %s after freeing a = %d; want 404", to, status)
		}
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/both", "left"); status != 200 || n != 1 {
		t.Fatalf("publish to topic both after freeing a = %d, delivered %d; want 200, 1", status, n)
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/conn/"+keys[1], "still"); status != 200 || n != 1 {
		t.Fatalf("publish to b's key after freeing a = %d, delivered %d; want 200, 1", status, n)
	}
	for _, want := range []string{"left", "still"} {
		if f := nodetest.ReadFrame(t, r); f.Data != want {
			t.Fatalf("read %+v; want %q for b", f, want)
		}
	}
	onLoop(t, s, loop, func(l *engine.Loop, ls *loopState) {
		ls.DropStream(l, subs[1])
		if n := ls.Subscribers.Load(); n != 0 {
			t.Errorf("subscribers on the loop after freeing both = %d; want 0", n)
		}
		if ls.Stream(subs[0]) != nil || ls.Stream(subs[1]) != nil {
			t.Error("a freed stream record is still named by its Sub")
		}
	})
}
