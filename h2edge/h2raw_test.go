package h2edge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"golang.org/x/net/http2"
)

// TestH2MaxStreams opens one stream more than --h2-max-streams allows: it is
// refused with RST_STREAM REFUSED_STREAM and the others stream on.
func TestH2MaxStreams(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.H2MaxStreams = 2 })
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	for _, id := range []uint32{1, 3, 5} {
		c.Get(id, "/sub?topic=x")
	}
	c.Until("stream 5 refused", func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		if ok && r.StreamID != 5 {
			t.Fatalf("stream %d reset (%v); want only stream 5 refused", r.StreamID, r.ErrCode)
		}
		return ok && r.ErrCode == http2.ErrCodeRefusedStream
	})
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/x", "two"); status != 200 || n != 2 {
		t.Fatalf("publish = %d, delivered %d; want 200, 2", status, n)
	}
	got := map[uint32]bool{}
	c.Until("the message on both streams", func(f http2.Frame) bool {
		for _, id := range []uint32{1, 3} {
			got[id] = got[id] || nodetest.IsData(id, `"data":"two"`)(f)
		}
		return got[1] && got[3]
	})
}

// TestH2SlowStreamIsReset holds stream 1's window shut while its output
// piles up past --write-buffer-limit: stream 1 is reset (CANCEL, counted)
// and stream 3, on the same connection, still gets its frames.
func TestH2SlowStreamIsReset(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.WriteBufferLimit = 4096 })
	c := nodetest.DialRawH2(t, s.EdgeAddr(), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.Get(1, "/sub?topic=both&user=slow")
	c.Get(3, "/sub?topic=both")
	c.Fr.WriteWindowUpdate(3, 1<<20)
	c.Until("stream 3's registered frame", nodetest.IsData(3, "registered"))
	// 1000-byte messages queue behind the shut window: the fourth passes
	// the 4096-byte limit (with the registered frame), and the stream is
	// gone for the ones after it.
	for i := range 6 {
		status, n := nodetest.Pub(t, s.APIAddr(), "/pub/user/slow", strings.Repeat("x", 1000))
		if i < 4 && (status != 200 || n != 1) || i >= 4 && status != 404 {
			t.Fatalf("publish %d to the slow stream = %d, delivered %d; want 200, 1 up to the fourth, 404 after", i+1, status, n)
		}
	}
	c.Until("stream 1 reset", func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == 1 && r.ErrCode == http2.ErrCodeCancel
	})
	if n := s.H2SlowStreams.Load(); n != 1 {
		t.Errorf("slow streams counted = %d; want 1", n)
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/both", "still"); status != 200 || n != 1 {
		t.Fatalf("publish to the topic after the reset = %d, delivered %d; want 200, 1 (stream 3)", status, n)
	}
	c.Until("stream 3's message", nodetest.IsData(3, `"data":"still"`))
}

// TestH2DrainSendsReconnectThenGoAway drains the node: each stream gets its
// reconnect frame and ends, then GOAWAY NO_ERROR, then the connection
// closes.
func TestH2DrainSendsReconnectThenGoAway(t *testing.T) {
	s := testNode(t, nil)
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	c.Get(1, "/sub?topic=a")
	c.Get(3, "/sub?topic=a&format=sse")
	c.Until("stream 1 registered", nodetest.IsData(1, "registered"))
	c.Until("stream 3 registered", nodetest.IsData(3, "registered"))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- s.Drain(ctx)
	}()
	ended := map[uint32]bool{}
	sawReconnect := map[uint32]bool{}
	for {
		f := c.Next(true)
		if f == nil {
			break
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if strings.Contains(string(f.Data()), "reconnect") {
				sawReconnect[f.StreamID] = true
			}
			if f.StreamEnded() {
				ended[f.StreamID] = true
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo || !sawReconnect[1] || !sawReconnect[3] || !ended[1] || !ended[3] {
				t.Fatalf("GOAWAY %v with reconnect frames %v and ended streams %v; want NO_ERROR after both streams' reconnect and end", f.ErrCode, sawReconnect, ended)
			}
			ended[0] = true
		}
	}
	if !ended[0] {
		t.Fatal("the connection closed without a GOAWAY")
	}
	if err := <-done; err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

// TestH2HeaderTimeoutCoversSettings: a client that sends the preface and
// SETTINGS but never acknowledges ours is sent GOAWAY SETTINGS_TIMEOUT once
// --header-timeout passes, and closed.
func TestH2HeaderTimeoutCoversSettings(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.HeaderTimeout = 300 * time.Millisecond })
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	for {
		f := c.Next(false)
		if f == nil {
			t.Fatal("closed without GOAWAY")
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			if g.ErrCode != http2.ErrCodeSettingsTimeout {
				t.Fatalf("GOAWAY %v; want SETTINGS_TIMEOUT", g.ErrCode)
			}
			break
		}
	}
	if f := c.Next(false); f != nil {
		t.Fatalf("after GOAWAY read %v; want the connection closed", f)
	}
}

// TestH2HeartbeatsOnEveryStream: each stream of a connection gets its own
// heartbeat frames.
func TestH2HeartbeatsOnEveryStream(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.Heartbeat = 200 * time.Millisecond })
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	c.Get(1, "/sub?topic=a")
	c.Get(3, "/sub?topic=b")
	got := map[uint32]int{}
	for got[1] < 2 || got[3] < 2 {
		f := c.Until("heartbeats", func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
		if d := f.(*http2.DataFrame); strings.Contains(string(d.Data()), `"protocol":0`) {
			got[d.StreamID]++
		}
	}
}

// TestH2PingFindsDeadPeers: a connection that carries no stream is sent a
// PING every heartbeat interval; one that answers stays, one that leaves
// two unanswered is closed.
func TestH2PingFindsDeadPeers(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.Heartbeat = 200 * time.Millisecond })
	alive, dead := nodetest.DialRawH2(t, s.EdgeAddr()), nodetest.DialRawH2(t, s.EdgeAddr())
	// The live peer answers every PING on its own goroutine for the whole
	// test: on a loaded machine, reading the silent peer's frames can take
	// longer than two intervals, and a live peer left unanswered meanwhile
	// would rightly be closed too.
	answered := make(chan int, 1)
	go func() {
		n := 0
		defer func() { answered <- n }()
		for {
			f, err := alive.Fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.PingFrame:
				if !f.IsAck() {
					alive.Fr.WritePing(true, f.Data)
					n++
				}
			case *http2.SettingsFrame:
				if !f.IsAck() {
					alive.Fr.WriteSettingsAck()
				}
			}
		}
	}()
	unanswered := 0
	for {
		f := dead.Next(true)
		if f == nil {
			break
		}
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			unanswered++
		}
	}
	if unanswered < 2 {
		t.Fatalf("the silent peer was closed after %d PINGs; want 2 unanswered first", unanswered)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.H2Conns.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := s.H2Conns.Load()
	alive.Conn.Close()
	if pings := <-answered; pings < 2 {
		t.Errorf("the live peer answered %d PINGs; want at least 2 (one per heartbeat)", pings)
	}
	if n != 1 {
		t.Fatalf("h2 connections = %d after the silent one was closed; want 1 (the one that answers)", n)
	}
}

// TestH2MethodNotAllowedSaysAllow: a 405 on a stream carries the Allow field
// (RFC 9110 §15.5.6), as over HTTP/1.1, and leaves the connection's other
// streams alone.
func TestH2MethodNotAllowedSaysAllow(t *testing.T) {
	s := testNode(t, nil)
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	c.Request(1, "PUT", "/sub?topic=a")
	c.Request(3, "GET", "/ack?conn=x&id=1")
	c.Get(5, "/sub?topic=a")
	want := map[uint32]string{1: "GET, HEAD, OPTIONS", 3: "POST, OPTIONS"}
	for len(want) > 0 {
		f := c.Until("a response head", func(f http2.Frame) bool { _, ok := f.(*http2.HeadersFrame); return ok })
		id := f.Header().StreamID
		h := c.Hdrs[id]
		allow, ok := want[id]
		if !ok {
			continue
		}
		delete(want, id)
		if h[":status"] != "405" || h["allow"] != allow {
			t.Errorf("stream %d: %v; want :status 405 and allow %q", id, h, allow)
		}
	}
	c.Until("the subscribe's registered frame", nodetest.IsData(5, "registered"))
}
