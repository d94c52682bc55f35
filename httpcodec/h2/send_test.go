package h2

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestDetectPreface(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Detection
	}{
		{"", NeedMore},
		{"PRI", NeedMore},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r", NeedMore},
		{ClientPreface, IsH2},
		{ClientPreface + "\x00\x00\x00\x04", IsH2},
		{"GET / HTTP/1.1\r\n", NotH2},
		{"PRI * HTTP/1.1\r\n", NotH2},
		{"POST", NotH2},
		{"P", NeedMore},
		{"PRX", NotH2},
	} {
		if got := DetectPreface([]byte(tc.in)); got != tc.want {
			t.Errorf("DetectPreface(%q) = %d; want %d", tc.in, got, tc.want)
		}
	}
}

// open returns a ready server and client with GET streams opened on ids.
func open(t *testing.T, cfg Config, settings []http2.Setting, ids ...uint32) (*server, *client) {
	t.Helper()
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings(settings...)
	cl.enc.SetMaxDynamicTableSizeLimit(0)
	cl.fr.WriteSettingsAck()
	for _, id := range ids {
		cl.get(id, "/sub")
	}
	s := newServer(cfg)
	s.feed(t, cl.take())
	s.out = s.out[:0] // drop our SETTINGS and the ACK
	s.events = nil
	return s, cl
}

func TestResponseHeadersAndData(t *testing.T) {
	s, _ := open(t, Config{}, nil, 1)
	var err error
	s.out, err = s.c.WriteHeaders(s.out, 1, 200, []Field{
		{"content-type", "text/event-stream"}, {"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"},
		{"connection", "keep-alive"}, {"transfer-encoding", "chunked"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	s.out, _ = s.c.WriteData(s.out, 1, []byte("data: a\n\n"), false)
	s.out, _ = s.c.WriteData(s.out, 1, []byte("data: b\n\n"), true)
	want := []string{
		"HEADERS 1 :status=200 content-type=text/event-stream cache-control=no-cache x-accel-buffering=no",
		`DATA 1 "data: a\n\n"`, `DATA 1 "data: b\n\n" end`,
	}
	if got := frames(t, s.out); !slices.Equal(got, want) {
		t.Fatalf("frames:\n got %q\nwant %q", got, want)
	}
	if _, err := s.c.WriteData(nil, 1, []byte("x"), false); err != ErrStreamClosed {
		t.Fatalf("WriteData after END_STREAM = %v; want ErrStreamClosed", err)
	}
	if s.c.NumStreams() != 0 {
		t.Fatalf("NumStreams = %d after the stream ended; want 0", s.c.NumStreams())
	}
}

func TestWriteErrors(t *testing.T) {
	s, _ := open(t, Config{}, nil, 1)
	if _, err := s.c.WriteData(nil, 1, []byte("x"), false); err != ErrNoHeaders {
		t.Errorf("WriteData before headers = %v; want ErrNoHeaders", err)
	}
	if _, err := s.c.WriteHeaders(nil, 3, 200, nil, false); err != ErrStreamClosed {
		t.Errorf("WriteHeaders on an unopened stream = %v; want ErrStreamClosed", err)
	}
	s.c.WriteHeaders(nil, 1, 200, nil, false)
	if _, err := s.c.WriteHeaders(nil, 1, 200, nil, false); err != ErrHeadersSent {
		t.Errorf("second WriteHeaders = %v; want ErrHeadersSent", err)
	}
	s.c.GoAway(nil, InternalError)
	if _, err := s.c.WriteData(nil, 1, []byte("x"), false); err != ErrConnClosed {
		t.Errorf("WriteData after GOAWAY(INTERNAL_ERROR) = %v; want ErrConnClosed", err)
	}
}

func TestStatusEncodings(t *testing.T) {
	s, _ := open(t, Config{}, nil, 1, 3, 5, 7)
	for i, st := range []int{200, 503, 404, 101} {
		s.out, _ = s.c.WriteHeaders(s.out, uint32(2*i+1), st, nil, true)
	}
	want := []string{"HEADERS 1 :status=200 end", "HEADERS 3 :status=503 end", "HEADERS 5 :status=404 end", "HEADERS 7 :status=101 end"}
	if got := frames(t, s.out); !slices.Equal(got, want) {
		t.Fatalf("frames:\n got %q\nwant %q", got, want)
	}
}

// A header block longer than a frame leaves as HEADERS + CONTINUATION.
func TestLargeResponseHeaders(t *testing.T) {
	s, _ := open(t, Config{}, nil, 1)
	big := strings.Repeat("v", 40000)
	s.out, _ = s.c.WriteHeaders(s.out, 1, 200, []Field{{"x-big", big}, {"x-after", "1"}}, true)
	want := []string{"HEADERS 1 :status=200 x-big=" + big + " x-after=1 end"}
	if got := frames(t, s.out); !slices.Equal(got, want) {
		t.Fatalf("frames: got %d frames (%.80q); want one header block", len(got), got)
	}
}

// DATA waits for window: the stream window (SETTINGS_INITIAL_WINDOW_SIZE),
// then WINDOW_UPDATE lets it out in order, END_STREAM last.
func TestFlowControlStreamWindow(t *testing.T) {
	s, cl := open(t, Config{}, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 4}}, 1)
	s.out, _ = s.c.WriteHeaders(s.out, 1, 200, nil, false)
	s.out, _ = s.c.WriteData(s.out, 1, []byte("abcdef"), false)
	s.out, _ = s.c.WriteData(s.out, 1, []byte("gh"), true)
	if q := s.c.Queued(1); q != 4 {
		t.Fatalf("Queued = %d; want 4 (window 4 of 8 bytes)", q)
	}
	cl.fr.WriteWindowUpdate(1, 3)
	s.feed(t, cl.take())
	if q := s.c.Queued(1); q != 1 {
		t.Fatalf("Queued = %d after +3; want 1", q)
	}
	// Growing SETTINGS_INITIAL_WINDOW_SIZE grows open streams' windows too.
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
	s.feed(t, cl.take())
	want := []string{"HEADERS 1 :status=200", `DATA 1 "abcd"`, `DATA 1 "efg"`, "SETTINGS ack", `DATA 1 "h" end`}
	if got := frames(t, s.out); !slices.Equal(got, want) {
		t.Fatalf("frames:\n got %q\nwant %q", got, want)
	}
	if s.c.NumStreams() != 0 || s.c.QueuedTotal() != 0 {
		t.Fatalf("after the queue drained with END_STREAM: %d streams, %d queued; want 0, 0", s.c.NumStreams(), s.c.QueuedTotal())
	}
	if !slices.Equal(s.events, []string{"window 1"}) {
		t.Fatalf("events %q; want [window 1]", s.events)
	}
}

// A zero window held forever: the queue grows where the caller sees it,
// the connection's other streams keep flowing, and Reset cuts the stream and
// frees its queue.
func TestZeroWindowHeldForever(t *testing.T) {
	s, cl := open(t, Config{}, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}, 1, 3)
	cl.fr.WriteWindowUpdate(3, 1<<20) // only stream 3 reads
	s.feed(t, cl.take())
	s.out, _ = s.c.WriteHeaders(s.out, 1, 200, nil, false)
	s.out, _ = s.c.WriteHeaders(s.out, 3, 200, nil, false)
	msg := []byte(strings.Repeat("m", 1000))
	const limit = 16 << 10 // the loop's write-buffer limit in this test
	cut := false
	for i := 0; i < 60; i++ {
		s.out = s.out[:0]
		s.out, _ = s.c.WriteData(s.out, 1, msg, false)
		s.out, _ = s.c.WriteData(s.out, 3, msg, false)
		if got := frames(t, s.out); !slices.Contains(got, `DATA 3 "`+string(msg)+`"`) {
			t.Fatalf("message %d: stream 3 got no DATA while stream 1 is stuck: %.60q", i, got)
		}
		if s.c.Queued(1) > limit {
			s.out, _ = s.c.Reset(s.out[:0], 1, Cancel)
			cut = true
			break
		}
	}
	if !cut {
		t.Fatalf("stream 1's queue never passed %d bytes: %d", limit, s.c.Queued(1))
	}
	if got := frames(t, s.out); !slices.Equal(got, []string{"RST_STREAM 1 CANCEL"}) {
		t.Fatalf("cut: %q", got)
	}
	if s.c.QueuedTotal() != 0 || s.c.NumStreams() != 1 {
		t.Fatalf("after the cut: %d queued, %d streams; want 0, 1", s.c.QueuedTotal(), s.c.NumStreams())
	}
}

// The connection window is shared: when it opens, queued streams get a
// frame each in turn, so one big queue does not starve the rest.
func TestConnectionWindowSharedFairly(t *testing.T) {
	s, cl := open(t, Config{}, nil, 1, 3)
	s.out, _ = s.c.WriteHeaders(s.out, 1, 200, nil, false)
	s.out, _ = s.c.WriteHeaders(s.out, 3, 200, nil, false)
	s.out, _ = s.c.WriteData(s.out, 3, make([]byte, 65535), false) // takes the whole connection window
	s.out, _ = s.c.WriteData(s.out, 3, make([]byte, 50000), false)
	s.out, _ = s.c.WriteData(s.out, 1, []byte("small"), false)
	if s.c.Queued(3) != 50000 || s.c.Queued(1) != 5 {
		t.Fatalf("Queued = %d, %d; want 50000, 5", s.c.Queued(3), s.c.Queued(1))
	}
	cl.fr.WriteWindowUpdate(3, 1<<20)
	cl.fr.WriteWindowUpdate(0, 20000) // less than stream 3 alone could take
	s.feed(t, cl.take())
	if s.c.Queued(1) != 0 || s.c.Queued(3) != 50000-(20000-5) {
		t.Fatalf("after the connection window opened by 20000: Queued = %d (stream 1), %d (stream 3); want 0, %d",
			s.c.Queued(1), s.c.Queued(3), 50000-(20000-5))
	}
}

// Frames for many streams of one connection go into one buffer: a
// broadcast costs the connection one write.
func TestCoalescedBroadcast(t *testing.T) {
	ids := []uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
	s, _ := open(t, Config{}, nil, ids...)
	for _, id := range ids {
		s.out, _ = s.c.WriteHeaders(s.out, id, 200, nil, false)
	}
	out := s.out[:0]
	msg := []byte("data: hello\n\n")
	for _, id := range ids {
		out, _ = s.c.WriteData(out, id, msg, false)
	}
	got := frames(t, out)
	if len(got) != len(ids) || len(out) != len(ids)*(9+len(msg)) {
		t.Fatalf("one buffer holds %d frames, %d bytes; want %d frames, %d bytes", len(got), len(out), len(ids), len(ids)*(9+len(msg)))
	}
}

func TestPingAndGoAway(t *testing.T) {
	s, cl := open(t, Config{}, nil, 1)
	s.out = s.c.Ping(s.out, [8]byte{9})
	cl.fr.WritePing(true, [8]byte{9})
	cl.fr.WritePing(true, [8]byte{9}) // unsolicited: ignored
	s.feed(t, cl.take())
	if !slices.Equal(s.events, []string{"pingack"}) {
		t.Fatalf("events %q; want one pingack", s.events)
	}
	s.out = s.c.GoAway(s.out, NoError)
	cl.get(3, "/late") // after our GOAWAY: refused, decoded all the same
	cl.get(5, "/later")
	s.feed(t, cl.take())
	s.out, _ = s.c.WriteHeaders(s.out, 1, 200, nil, true) // open streams carry on
	want := []string{"PING 0900000000000000", "GOAWAY 1 NO_ERROR", "RST_STREAM 3 REFUSED_STREAM", "RST_STREAM 5 REFUSED_STREAM", "HEADERS 1 :status=200 end"}
	if got := frames(t, s.out); !slices.Equal(got, want) {
		t.Fatalf("frames:\n got %q\nwant %q", got, want)
	}
}

// Ready comes once the preface, the client's SETTINGS and its ACK of ours
// are in, whichever order the last two arrive in.
func TestReadyAfterExchange(t *testing.T) {
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	cl.get(1, "/")
	s := newServer(Config{})
	s.feed(t, cl.take())
	if s.c.Ready() {
		t.Fatal("Ready before the client acknowledged our SETTINGS")
	}
	cl.fr.WriteSettingsAck()
	s.feed(t, cl.take())
	if !s.c.Ready() || !slices.Equal(s.events, []string{"request 1 GET https://example.com/ end", "ready"}) {
		t.Fatalf("Ready = %v, events %q", s.c.Ready(), s.events)
	}
}
