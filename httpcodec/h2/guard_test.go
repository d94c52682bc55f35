package h2

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// lastEvent returns the last recorded event.
func (s *server) lastEvent() string {
	if len(s.events) == 0 {
		return ""
	}
	return s.events[len(s.events)-1]
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once. Within a
// Tick window at most MaxResets pass; the next ends the connection.
func TestRapidReset(t *testing.T) {
	const max = 50
	s, cl := open(t, Config{MaxResets: max}, nil)
	id := uint32(1)
	for i := 0; i <= max; i++ {
		cl.post(id, "/sub")
		cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		id += 2
	}
	s.feed(t, cl.take())
	if got := s.lastEvent(); got != "connerr ENHANCE_YOUR_CALM" {
		t.Fatalf("after %d resets: last event %q; want connerr ENHANCE_YOUR_CALM", max+1, got)
	}
	if resets := strings.Count(strings.Join(s.events, "\n"), "reset "); resets != max {
		t.Fatalf("%d resets reported before the GOAWAY; want %d (the one past the budget is the GOAWAY)", resets, max)
	}
	if got := frames(t, s.out); got[len(got)-1] != "GOAWAY "+itoa(int(id-2))+" ENHANCE_YOUR_CALM" {
		t.Fatalf("last frame %q", got[len(got)-1])
	}

	// The same rate spread over Tick windows is a browser closing tabs.
	s, cl = open(t, Config{MaxResets: max}, nil)
	id = 1
	for round := 0; round < 5; round++ {
		for i := 0; i < max; i++ {
			cl.post(id, "/sub")
			cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			id += 2
		}
		s.feed(t, cl.take())
		s.c.Tick()
	}
	if s.c.Closed() || s.c.NumStreams() != 0 {
		t.Fatalf("%d resets in windows of %d: closed = %v, %d streams left", 5*max, max, s.c.Closed(), s.c.NumStreams())
	}
}

// Refused streams count as resets: opening past MaxStreams again and
// again is the same attack.
func TestRefusedStreamsCount(t *testing.T) {
	s, cl := open(t, Config{MaxStreams: 1, MaxResets: 10}, nil)
	cl.post(1, "/held")
	for id := uint32(3); id < 3+2*11; id += 2 {
		cl.get(id, "/")
	}
	s.feed(t, cl.take())
	if got := s.lastEvent(); got != "connerr ENHANCE_YOUR_CALM" {
		t.Fatalf("11 refused streams: last event %q; want connerr ENHANCE_YOUR_CALM", got)
	}
}

// CONTINUATION flood (CVE-2024-27316): a header block that never ends.
// Nothing is buffered but the decoded fields up to MaxHeaderBytes; past
// twice that on the wire the connection ends.
func TestContinuationFlood(t *testing.T) {
	const maxHeader = 4096
	s, cl := open(t, Config{MaxHeaderBytes: maxHeader}, nil)
	first := cl.block(":method", "GET", ":scheme", "http", ":path", "/")
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first})
	s.feed(t, cl.take())
	fed := 0
	frag := cl.block("x-flood", strings.Repeat("f", 90)) // valid fields, 100 bytes each
	for i := 0; i < 1000 && !s.c.Closed(); i++ {
		cl.fr.WriteContinuation(1, false, bytes.Repeat(frag, 10))
		in := cl.take()
		fed += len(in)
		s.feed(t, in)
		if s.c.hb != nil && s.c.hb.Held() > maxHeader {
			t.Fatalf("field buffer grew to %d bytes; bound %d", s.c.hb.Held(), maxHeader)
		}
	}
	if got := s.lastEvent(); got != "connerr ENHANCE_YOUR_CALM" {
		t.Fatalf("last event %q; want connerr ENHANCE_YOUR_CALM", got)
	}
	if fed > 2*maxHeader+1024 {
		t.Fatalf("connection ended after %d bytes of header block; bound %d", fed, 2*maxHeader+1024)
	}
}

// HPACK bomb: one table entry referenced again and again, each reference
// one byte expanding to 4 KiB. The list is counted as decoded, stops being
// stored at MaxHeaderBytes, and the request is answered 431.
func TestHPACKBomb(t *testing.T) {
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	s := newServer(Config{})
	// Before the client acknowledges our table size of 0 it may use 4096
	// bytes, so the bomb comes first.
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/"}} {
		enc.WriteField(f)
	}
	enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)})
	for range 3000 {
		blk.WriteByte(0x80 | 62) // indexed: the entry just added
	}
	b := blk.Bytes()
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3000], EndStream: true})
	cl.fr.WriteContinuation(1, true, b[3000:])
	cl.fr.WriteSettingsAck()
	in := cl.take()
	for len(in) > 0 {
		var n int
		s.out, n, _ = s.c.Feed(s.out, in)
		in = in[n:]
		if s.c.hb != nil && s.c.hb.Held() > defaultMaxHeader {
			t.Fatalf("field buffer %d bytes for a 12 MB decoded list; bound %d", s.c.hb.Held(), defaultMaxHeader)
		}
	}
	want := []string{"SETTINGS ack", "HEADERS 1 :status=431 content-length=0 end"}
	if got := s.frames(t); !slices.Equal(got, want) {
		t.Fatalf("frames %q; want %q", got, want)
	}

	// One string longer than the limit cannot be decoded past without
	// holding it: COMPRESSION_ERROR.
	s, cl = open(t, Config{MaxHeaderBytes: 1024}, nil)
	cl.get(1, "/", "x-long", strings.Repeat("l", 2000))
	s.feed(t, cl.take())
	if got := s.lastEvent(); got != "connerr COMPRESSION_ERROR" {
		t.Fatalf("2000-byte string with a 1024 limit: last event %q; want connerr COMPRESSION_ERROR", got)
	}
}

// SETTINGS, PING and empty-frame floods: within a Tick window each budget
// holds, the next frame ends the connection. Every flood frame before it
// was answered in dst (the loop's write-buffer limit bounds those bytes if
// the peer does not read them).
func TestControlFloods(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		n     int
		write func(cl *client)
	}{
		{"SETTINGS", Config{MaxSettings: 20}, 20 - 2, func(cl *client) { cl.fr.WriteSettings() }}, // 2 used by the handshake
		{"PING", Config{MaxPings: 20}, 20, func(cl *client) { cl.fr.WritePing(false, [8]byte{}) }},
		{"empty DATA", Config{MaxEmpty: 20}, 20, func(cl *client) { cl.fr.WriteData(1, false, nil) }},
		{"PRIORITY", Config{MaxEmpty: 20}, 20, func(cl *client) { cl.fr.WritePriority(3, http2.PriorityParam{Weight: 1}) }},
		{"unknown frames", Config{MaxEmpty: 20}, 20, func(cl *client) { cl.fr.WriteRawFrame(0x20, 0, 0, nil) }},
		{"unsolicited PING ACK", Config{MaxEmpty: 20}, 20, func(cl *client) { cl.fr.WritePing(true, [8]byte{}) }},
		{"WINDOW_UPDATE on a closed stream", Config{MaxEmpty: 20}, 20, func(cl *client) { cl.fr.WriteWindowUpdate(5, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cl := open(t, tc.cfg, nil)
			cl.post(1, "/").get(5, "/closed") // 5 ends at once: closed
			s.feed(t, cl.take())
			s.out, _ = s.c.WriteHeaders(s.out, 5, 204, nil, true)
			for range tc.n {
				tc.write(cl)
			}
			s.feed(t, cl.take())
			if s.c.Closed() {
				t.Fatalf("closed within the budget: %q", s.events)
			}
			tc.write(cl)
			s.feed(t, cl.take())
			if got := s.lastEvent(); got != "connerr ENHANCE_YOUR_CALM" {
				t.Fatalf("one past the budget: last event %q; want connerr ENHANCE_YOUR_CALM", got)
			}
		})
	}
}

// A closed connection drops input and refuses writes.
func TestClosedConnDropsInput(t *testing.T) {
	s, cl := open(t, Config{}, nil, 1)
	cl.fr.WriteRawFrame(http2.FramePushPromise, 0, 1, nil)
	cl.get(3, "/")
	in := cl.take()
	out, n, ev := s.c.Feed(nil, in)
	if ev.Kind != EventConnError || ev.Code != ProtocolError || n != len(in) {
		t.Fatalf("Feed = %d of %d, %+v; want all consumed, EventConnError PROTOCOL_ERROR", n, len(in), ev)
	}
	if out2, n2, ev2 := s.c.Feed(out, []byte("more")); n2 != 4 || ev2.Kind != EventNone || len(out2) != len(out) {
		t.Fatalf("Feed after the error = %d, %+v, %d new bytes", n2, ev2, len(out2)-len(out))
	}
}
