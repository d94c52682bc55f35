package h2

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/net/http2"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz seeds from the read cases")

// fuzzServe feeds in, cut at the offsets split derives, answering every
// request, and returns what it recorded; it fails on a broken invariant.
func fuzzServe(t *testing.T, in []byte, split uint64) *server {
	s := newServer(Config{MaxHeaderBytes: 1024, MaxStreams: 8})
	for len(in) > 0 {
		k := len(in)
		if split != 0 {
			k = min(k, int(split%61)+1)
			split = split*6364136223846793005 + 1442695040888963407
		}
		piece := in[:k]
		in = in[k:]
		for {
			var n int
			var ev Event
			s.out, n, ev = s.c.Feed(s.out, piece)
			if n < 0 || n > len(piece) {
				t.Fatalf("Feed consumed %d of %d", n, len(piece))
			}
			piece = piece[n:]
			if s.c.hb != nil && s.c.hb.Held() > 2048 {
				t.Fatalf("field buffer %d bytes; limit 1024", s.c.hb.Held())
			}
			if got, sum := s.c.QueuedTotal(), sumQueued(s.c); got != sum {
				t.Fatalf("QueuedTotal = %d; the streams' queues sum to %d", got, sum)
			}
			if ev.Kind == EventNone {
				if len(piece) != 0 {
					t.Fatalf("EventNone with %d bytes left", len(piece))
				}
				break
			}
			s.record(ev)
			if ev.Kind == EventRequest {
				r := s.c.Request()
				_, _, _ = r.Path(), r.Query(), r.Header("cookie")
				s.out, _ = s.c.WriteHeaders(s.out, ev.Stream, 200, []Field{{"content-type", "text/plain"}}, false)
				s.out, _ = s.c.WriteData(s.out, ev.Stream, []byte("hello"), false)
			}
		}
	}
	return s
}

// FuzzFeed: arbitrary client bytes after the preface. Feeding them whole
// and in pieces must record the same events and write the same bytes, and
// everything written must parse with x/net's Framer.
func FuzzFeed(f *testing.F) {
	for _, tc := range readCases {
		f.Add(tc.in(newClient()), uint64(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint64) {
		whole := fuzzServe(t, in, 0)
		cut := fuzzServe(t, in, split|1)
		if !slices.Equal(whole.events, cut.events) || string(whole.out) != string(cut.out) {
			t.Fatalf("split input: events %q; whole: %q (outputs %d and %d bytes)", cut.events, whole.events, len(cut.out), len(whole.out))
		}
		frames(t, whole.out)
	})
}

// FuzzHPACK: an arbitrary header block, in one HEADERS frame or cut into
// CONTINUATION frames, before and after the client acknowledged our table
// size. The block may fail the connection (COMPRESSION_ERROR) or the
// stream, never the process, and never holds more than the limit.
func FuzzHPACK(f *testing.F) {
	cl := newClient()
	f.Add(cl.block(":method", "GET", ":scheme", "http", ":path", "/", "a", "b"), uint8(3), true)
	f.Add(cl.block(":method", "GET", ":path", "/x", ":scheme", "https", "cookie", "c=1", "cookie", "d=2"), uint8(1), false)
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82, 0x86, 0x84}, uint8(0), false) // table size update then indexed fields
	f.Add([]byte{0x40, 0x85, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61}, uint8(2), true)
	f.Fuzz(func(t *testing.T, block []byte, cuts uint8, ack bool) {
		cl := newClient()
		cl.buf.WriteString(ClientPreface)
		cl.fr.WriteSettings()
		if ack {
			cl.fr.WriteSettingsAck()
		}
		step := len(block)/(int(cuts%8)+1) + 1
		for i := 0; i < len(block) || i == 0; i += step {
			frag := block[i:min(i+step, len(block))]
			end := i+step >= len(block)
			if i == 0 {
				cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag, EndStream: true, EndHeaders: end})
			} else {
				cl.fr.WriteContinuation(1, end, frag)
			}
		}
		cl.get(3, "/after") // the table must still be in step
		s := fuzzServe(t, cl.take(), 0)
		frames(t, s.out)
	})
}

// TestWriteFuzzCorpus writes the seeds of FuzzFeed under testdata/fuzz,
// so `go test` replays them as files and a fuzzing run starts from them.
// Run with -update-corpus after changing the read cases.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFeed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, tc := range readCases {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint64(%d)\n", tc.in(newClient()), 7+i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("case%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join("testdata", "fuzz", "FuzzHPACK")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cl := newClient()
	for i, block := range [][]byte{
		cl.block(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/sub?topic=a",
			"user-agent", "Mozilla/5.0", "accept", "text/event-stream", "last-event-id", "42"),
		cl.block(":method", "POST", ":scheme", "http", ":path", "/ack?conn=k&id=9", "content-length", "0"),
		cl.block(":method", "GET", ":scheme", "http", ":path", "/", "cookie", "a=1", "cookie", "b=2", "te", "trailers"),
	} {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint8(%d)\nbool(%v)\n", block, i+2, i%2 == 0)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("block%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
