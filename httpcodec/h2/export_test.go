package h2

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"golang.org/x/net/http2"
)

// movedPair sets up a connection with the state a handoff meets: three
// subscribe streams answered, DATA queued behind a stream window the client
// keeps small, a PING of ours unanswered, budgets partly spent. It returns
// the connection, the client (its HPACK encoder in step) and the state.
func movedPair(t testing.TB) (*server, *client, []byte) {
	t.Helper()
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 40})
	cl.enc.SetMaxDynamicTableSizeLimit(0)
	cl.fr.WriteSettingsAck()
	cl.get(1, "/sub?topic=a").get(3, "/sub?topic=b", "accept", "text/event-stream").get(5, "/sub?topic=c")
	cl.fr.WritePing(false, [8]byte{1})
	s := newServer(Config{MaxStreams: 10})
	s.feed(t, cl.take())
	for _, id := range []uint32{1, 3, 5} {
		var err error
		if s.out, err = s.c.WriteHeaders(s.out, id, 200, []Field{{"content-type", "application/x-ndjson"}}, false); err != nil {
			t.Fatal(err)
		}
		s.out, _ = s.c.WriteData(s.out, id, bytes.Repeat([]byte{byte('a' + id)}, 30), false)
	}
	s.out, _ = s.c.WriteData(s.out, 3, []byte("past the window of stream 3"), false)
	s.out = s.c.Ping(s.out, [8]byte{'p'})
	if q := s.c.Queued(3); q != 30+27-40 {
		t.Fatalf("Queued(3) = %d; want %d", q, 30+27-40)
	}
	state, err := s.c.AppendState(nil)
	if err != nil {
		t.Fatalf("AppendState of a quiet connection: %v", err)
	}
	return s, cl, state
}

// TestRestoreCarriesOn: a connection rebuilt from its state answers what
// follows exactly as the original does — the same events, the same bytes,
// the same state after: window updates let the queued DATA out, a new
// stream's HEADERS decode (HPACK in step: the peer's table is empty, ours
// never indexes), ids keep increasing (an old id is a PROTOCOL_ERROR), the
// PING ACK is ours, a reset removes its stream.
func TestRestoreCarriesOn(t *testing.T) {
	orig, cl, state := movedPair(t)
	c, err := Restore(state)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	again, _ := c.AppendState(nil)
	if !bytes.Equal(again, state) {
		t.Fatalf("the restored connection's state differs:\n%x\n%x", again, state)
	}
	moved := &server{c: c}
	orig.out, orig.events = nil, nil

	cl.fr.WriteWindowUpdate(3, 100)
	cl.fr.WritePing(true, [8]byte{'p'})
	cl.get(7, "/sub?topic=new", "accept", "text/event-stream")
	cl.fr.WriteRSTStream(5, http2.ErrCodeCancel)
	follow := cl.take()
	for _, s := range []*server{orig, moved} {
		s.feed(t, follow)
		s.out, _ = s.c.WriteHeaders(s.out, 7, 200, []Field{{"content-type", "text/event-stream"}}, false)
		s.out, _ = s.c.WriteData(s.out, 7, []byte("data: x\n\n"), false)
	}
	if !slices.Equal(moved.events, orig.events) {
		t.Errorf("events after the move %q; the original's %q", moved.events, orig.events)
	}
	want := []string{"window 3", "pingack", "request 7 GET https://example.com/sub?topic=new accept=text/event-stream end", "reset 5 CANCEL"}
	if !slices.Equal(orig.events, want) {
		t.Errorf("events %q; want %q", orig.events, want)
	}
	if got, want := frames(t, moved.out), frames(t, orig.out); !slices.Equal(got, want) {
		t.Errorf("frames after the move %q; the original's %q", got, want)
	}
	a, _ := orig.c.AppendState(nil)
	b, _ := moved.c.AppendState(nil)
	if !bytes.Equal(a, b) {
		t.Errorf("states differ after the same input")
	}
	if got := moved.c.StreamIDs(nil); !slices.Equal(got, []uint32{1, 3, 7}) && !slices.Equal(got, []uint32{1, 7, 3}) {
		t.Errorf("open streams %v; want 1, 3, 7", got)
	}

	cl.get(5, "/sub?topic=again") // a closed id: going backwards
	moved.feed(t, cl.take())
	if last := moved.events[len(moved.events)-1]; last != "connerr PROTOCOL_ERROR" {
		t.Errorf("stream 5 opened again after the move: %q; want connerr PROTOCOL_ERROR", last)
	}
}

// TestNotMovable: a connection is not moved mid-frame, mid-header-block, or
// before the peer acknowledged our SETTINGS (its encoder may still index);
// AppendState says so and changes nothing.
func TestNotMovable(t *testing.T) {
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	unacked := newServer(Config{})
	unacked.feed(t, cl.take())

	half := newServer(Config{})
	half.feed(t, newClient().preface().get(1, "/sub").take()[:len(ClientPreface)+9+9+9+4])

	blk := newClient().preface()
	blk.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk.block(":method", "GET"), EndStream: true})
	open := newServer(Config{})
	open.feed(t, blk.take())

	indexing := newServer(Config{HeaderTableSize: 4096})
	indexing.feed(t, newClient().preface().take())

	for name, s := range map[string]*server{"settings not acknowledged": unacked, "half a frame header": half,
		"header block in progress": open, "a table of our own": indexing} {
		if s.c.Movable() {
			t.Errorf("%s: Movable", name)
		}
		if b, err := s.c.AppendState([]byte("x")); !errors.Is(err, ErrNotQuiet) || string(b) != "x" {
			t.Errorf("%s: AppendState = %q, %v; want ErrNotQuiet and nothing appended", name, b, err)
		}
	}
	ready := newServer(Config{})
	ready.feed(t, newClient().preface().take())
	if !ready.c.Movable() {
		t.Error("a connection after its handshake, between frames: not Movable")
	}
}

// TestRestoreRejects: states no connection of this package reaches are
// ErrState, each for its own reason.
func TestRestoreRejects(t *testing.T) {
	_, _, state := movedPair(t)
	// Offsets into the encoding (see AppendState).
	const (
		offFlags   = 1
		offLastID  = 3
		offSendWin = 7
		offRecvWin = 11
		offTable   = 1 + 2 + 4 + 16 + 2 + 8 + 10
		offStreams = stateFixed - 2
		offStream1 = stateFixed
	)
	cases := map[string]func(b []byte) []byte{
		"empty":               func(b []byte) []byte { return nil },
		"another version":     func(b []byte) []byte { b[0] = 9; return b },
		"cut short":           func(b []byte) []byte { return b[:len(b)-1] },
		"trailing bytes":      func(b []byte) []byte { return append(b, 0) },
		"handshake not done":  func(b []byte) []byte { b[offFlags+1] &^= byte(cfReady); return b },
		"unknown flag":        func(b []byte) []byte { b[offFlags] |= 0x80; return b },
		"even last id":        func(b []byte) []byte { b[offLastID+3] = 6; return b },
		"negative window":     func(b []byte) []byte { b[offSendWin] = 0xff; return b },
		"windows not summing": func(b []byte) []byte { b[offRecvWin+3]--; return b },
		"a table of ours":     func(b []byte) []byte { b[offTable+1] = 1; return b },
		"more streams than advertised": func(b []byte) []byte {
			b[offStreams], b[offStreams+1] = 0, 11
			return b
		},
		"stream id past the last": func(b []byte) []byte { b[offStream1+3] = 9; return b },
		"stream id zero":          func(b []byte) []byte { b[offStream1+3] = 0; return b },
		"unknown stream flag":     func(b []byte) []byte { b[offStream1+16] |= 0x40; return b },
	}
	for name, mangle := range cases {
		b := mangle(bytes.Clone(state))
		if c, err := Restore(b); !errors.Is(err, ErrState) || c != nil {
			t.Errorf("%s: Restore = %v, %v; want nil, ErrState", name, c, err)
		}
	}
}

// FuzzRestore: any bytes give a connection or ErrState, never a panic; a
// restored connection exports the same bytes and takes frames like any
// other (Feed, writes, window updates) without breaking.
func FuzzRestore(f *testing.F) {
	_, cl, state := movedPair(f)
	f.Add(state, cl.get(7, "/sub").take())
	ready := newServer(Config{})
	ready.feed(f, newClient().preface().take())
	empty, _ := ready.c.AppendState(nil)
	f.Add(empty, []byte{0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, state, in []byte) {
		c, err := Restore(state)
		if err != nil {
			if !errors.Is(err, ErrState) || c != nil {
				t.Fatalf("Restore = %v, %v; want nil, ErrState", c, err)
			}
			return
		}
		again, err := c.AppendState(nil)
		if err != nil || !bytes.Equal(again, state) {
			t.Fatalf("re-exported %x, %v; restored from %x", again, err, state)
		}
		s := &server{c: c}
		s.feed(t, in)
		for _, id := range c.StreamIDs(nil) {
			s.out, _ = c.WriteData(s.out, id, []byte("frame"), false)
		}
		frames(t, s.out)
	})
}
