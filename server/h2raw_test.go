package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawH2 is a frame-level h2c client, for what x/net's client will not do
// (hold a window shut, skip the SETTINGS ACK, open past the limit) and to see
// the frames the server sends.
type rawH2 struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	dec  *hpack.Decoder
	hdrs map[uint32]map[string]string
}

func dialRawH2(t *testing.T, s *Server, settings ...http2.Setting) *rawH2 {
	t.Helper()
	conn, err := net.Dial("tcp", s.EdgeAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &rawH2{t: t, conn: conn, fr: http2.NewFramer(conn, conn), hdrs: map[uint32]map[string]string{}}
	c.dec = hpack.NewDecoder(4096, nil)
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// get opens stream id with a GET of path.
func (c *rawH2) get(id uint32, path string) {
	c.t.Helper()
	c.request(id, "GET", path)
}

// request opens stream id with method on path, without a body.
func (c *rawH2) request(id uint32, method, path string) {
	c.t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", method}, {":scheme", "http"}, {":authority", "t"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next frame, acknowledging the server's SETTINGS and
// decoding response heads into c.hdrs; it returns nil at EOF.
func (c *rawH2) next(ackSettings bool) http2.Frame {
	c.t.Helper()
	f, err := c.fr.ReadFrame()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "reset by peer") {
			return nil
		}
		c.t.Fatalf("reading a frame: %v", err)
	}
	if testing.Verbose() {
		c.t.Logf("frame %v", f)
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if ackSettings && !f.IsAck() {
			c.fr.WriteSettingsAck()
		}
	case *http2.HeadersFrame:
		fields, err := c.dec.DecodeFull(f.HeaderBlockFragment())
		if err != nil {
			c.t.Fatalf("decoding HEADERS: %v", err)
		}
		m := map[string]string{}
		for _, hf := range fields {
			m[hf.Name] = hf.Value
		}
		c.hdrs[f.StreamID] = m
	}
	return f
}

// until reads frames until pred holds for one, and returns it.
func (c *rawH2) until(what string, pred func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	for {
		f := c.next(true)
		if f == nil {
			c.t.Fatalf("connection ended before %s", what)
		}
		if pred(f) {
			return f
		}
	}
}

func isData(id uint32, contains string) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		d, ok := f.(*http2.DataFrame)
		return ok && d.StreamID == id && strings.Contains(string(d.Data()), contains)
	}
}

// TestH2MaxStreams opens one stream more than --h2-max-streams allows: it is
// refused with RST_STREAM REFUSED_STREAM and the others stream on.
func TestH2MaxStreams(t *testing.T) {
	s := testNode(t, func(c *Config) { c.H2MaxStreams = 2 })
	c := dialRawH2(t, s)
	for _, id := range []uint32{1, 3, 5} {
		c.get(id, "/sub?topic=x")
	}
	c.until("stream 5 refused", func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		if ok && r.StreamID != 5 {
			t.Fatalf("stream %d reset (%v); want only stream 5 refused", r.StreamID, r.ErrCode)
		}
		return ok && r.ErrCode == http2.ErrCodeRefusedStream
	})
	if status, n := pub(t, s, "/pub/topic/x", "two"); status != 200 || n != 2 {
		t.Fatalf("publish = %d, delivered %d; want 200, 2", status, n)
	}
	got := map[uint32]bool{}
	c.until("the message on both streams", func(f http2.Frame) bool {
		for _, id := range []uint32{1, 3} {
			got[id] = got[id] || isData(id, `"data":"two"`)(f)
		}
		return got[1] && got[3]
	})
}

// TestH2SlowStreamIsReset holds stream 1's window shut while its output
// piles up past --write-buffer-limit: stream 1 is reset (CANCEL, counted)
// and stream 3, on the same connection, still gets its frames.
func TestH2SlowStreamIsReset(t *testing.T) {
	s := testNode(t, func(c *Config) { c.WriteBufferLimit = 4096 })
	c := dialRawH2(t, s, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.get(1, "/sub?topic=both&user=slow")
	c.get(3, "/sub?topic=both")
	c.fr.WriteWindowUpdate(3, 1<<20)
	c.until("stream 3's registered frame", isData(3, "registered"))
	// 1000-byte messages queue behind the shut window: the fourth passes
	// the 4096-byte limit (with the registered frame), and the stream is
	// gone for the ones after it.
	for i := range 6 {
		status, n := pub(t, s, "/pub/user/slow", strings.Repeat("x", 1000))
		if i < 4 && (status != 200 || n != 1) || i >= 4 && status != 404 {
			t.Fatalf("publish %d to the slow stream = %d, delivered %d; want 200, 1 up to the fourth, 404 after", i+1, status, n)
		}
	}
	c.until("stream 1 reset", func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == 1 && r.ErrCode == http2.ErrCodeCancel
	})
	if n := s.counters.h2SlowStreams.Load(); n != 1 {
		t.Errorf("slow streams counted = %d; want 1", n)
	}
	if status, n := pub(t, s, "/pub/topic/both", "still"); status != 200 || n != 1 {
		t.Fatalf("publish to the topic after the reset = %d, delivered %d; want 200, 1 (stream 3)", status, n)
	}
	c.until("stream 3's message", isData(3, `"data":"still"`))
}

// TestH2DrainSendsReconnectThenGoAway drains the node: each stream gets its
// reconnect frame and ends, then GOAWAY NO_ERROR, then the connection
// closes.
func TestH2DrainSendsReconnectThenGoAway(t *testing.T) {
	s := testNode(t, nil)
	c := dialRawH2(t, s)
	c.get(1, "/sub?topic=a")
	c.get(3, "/sub?topic=a&format=sse")
	c.until("stream 1 registered", isData(1, "registered"))
	c.until("stream 3 registered", isData(3, "registered"))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- s.Drain(ctx)
	}()
	ended := map[uint32]bool{}
	sawReconnect := map[uint32]bool{}
	for {
		f := c.next(true)
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
	s := testNode(t, func(c *Config) { c.HeaderTimeout = 300 * time.Millisecond })
	c := dialRawH2(t, s)
	for {
		f := c.next(false)
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
	if f := c.next(false); f != nil {
		t.Fatalf("after GOAWAY read %v; want the connection closed", f)
	}
}

// TestH2HeartbeatsOnEveryStream: each stream of a connection gets its own
// heartbeat frames.
func TestH2HeartbeatsOnEveryStream(t *testing.T) {
	s := testNode(t, func(c *Config) { c.Heartbeat = 200 * time.Millisecond })
	c := dialRawH2(t, s)
	c.get(1, "/sub?topic=a")
	c.get(3, "/sub?topic=b")
	got := map[uint32]int{}
	for got[1] < 2 || got[3] < 2 {
		f := c.until("heartbeats", func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
		if d := f.(*http2.DataFrame); strings.Contains(string(d.Data()), `"protocol":0`) {
			got[d.StreamID]++
		}
	}
}

// TestH2PingFindsDeadPeers: a connection that carries no stream is sent a
// PING every heartbeat interval; one that answers stays, one that leaves
// two unanswered is closed.
func TestH2PingFindsDeadPeers(t *testing.T) {
	s := testNode(t, func(c *Config) { c.Heartbeat = 200 * time.Millisecond })
	alive, dead := dialRawH2(t, s), dialRawH2(t, s)
	// The live peer answers every PING on its own goroutine for the whole
	// test: on a loaded machine, reading the silent peer's frames can take
	// longer than two intervals, and a live peer left unanswered meanwhile
	// would rightly be closed too.
	answered := make(chan int, 1)
	go func() {
		n := 0
		defer func() { answered <- n }()
		for {
			f, err := alive.fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.PingFrame:
				if !f.IsAck() {
					alive.fr.WritePing(true, f.Data)
					n++
				}
			case *http2.SettingsFrame:
				if !f.IsAck() {
					alive.fr.WriteSettingsAck()
				}
			}
		}
	}()
	unanswered := 0
	for {
		f := dead.next(true)
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
	for s.counters.h2Conns.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := s.counters.h2Conns.Load()
	alive.conn.Close()
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
	c := dialRawH2(t, s)
	c.request(1, "PUT", "/sub?topic=a")
	c.request(3, "GET", "/ack?conn=x&id=1")
	c.get(5, "/sub?topic=a")
	want := map[uint32]string{1: "GET, HEAD, OPTIONS", 3: "POST, OPTIONS"}
	for len(want) > 0 {
		f := c.until("a response head", func(f http2.Frame) bool { _, ok := f.(*http2.HeadersFrame); return ok })
		id := f.Header().StreamID
		h := c.hdrs[id]
		allow, ok := want[id]
		if !ok {
			continue
		}
		delete(want, id)
		if h[":status"] != "405" || h["allow"] != allow {
			t.Errorf("stream %d: %v; want :status 405 and allow %q", id, h, allow)
		}
	}
	c.until("the subscribe's registered frame", isData(5, "registered"))
}
