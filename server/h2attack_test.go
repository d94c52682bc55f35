package server

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Known HTTP/2 attacks against the edge (#13 item 7), each on its own
// connection next to a bystander connection holding a stream: the attacker
// ends with GOAWAY (or its stream with RST_STREAM / 431) and the right
// code, every subscriber it opened is gone from the table, and the
// bystander still gets its push. The codec's own tests (httpcodec/h2
// guard_test.go) bound the bytes and buffers each attack may cost.

// flood writes what build frames, built into one buffer, in the background
// (the server answers meanwhile, and the test reads those answers).
func (c *rawH2) flood(build func(fr *http2.Framer)) {
	var buf bytes.Buffer
	build(http2.NewFramer(&buf, nil))
	go c.conn.Write(buf.Bytes())
}

// block is an HPACK block of a GET of path.
func block(path string, extra ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	f := []string{":method", "GET", ":scheme", "http", ":authority", "t", ":path", path}
	f = append(f, extra...)
	for i := 0; i+1 < len(f); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: f[i], Value: f[i+1]})
	}
	return buf.Bytes()
}

// goAway reads until the GOAWAY and returns its code; the connection must
// close after it.
func (c *rawH2) goAway() http2.ErrCode {
	c.t.Helper()
	var code http2.ErrCode
	for {
		f := c.next(true)
		if f == nil {
			c.t.Fatal("the connection closed without GOAWAY")
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			code = g.ErrCode
			break
		}
	}
	c.conn.(*net.TCPConn).CloseWrite() // the server's lingering close waits for our FIN
	for c.next(false) != nil {
	}
	return code
}

func TestH2Attacks(t *testing.T) {
	s := testNode(t, nil)
	bystander := openH2Stream(t, h2cClient(), "http://"+s.EdgeAddr().String()+"/sub?topic=bystander")
	for _, a := range []struct {
		name   string
		attack func(c *rawH2)
		want   http2.ErrCode
	}{
		{"rapid reset (CVE-2023-44487): 2,000 subscribes opened and reset", func(c *rawH2) {
			blk := block("/sub?topic=rapid")
			c.flood(func(fr *http2.Framer) {
				for i := range uint32(2000) {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, BlockFragment: blk, EndStream: true, EndHeaders: true})
					fr.WriteRSTStream(2*i+1, http2.ErrCodeCancel)
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"CONTINUATION flood (CVE-2024-27316): a header block that never ends", func(c *rawH2) {
			var frag bytes.Buffer // one valid field, never indexed: ~100 bytes
			hpack.NewEncoder(&frag).WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 90), Sensitive: true})
			c.flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/sub")})
				for range 2000 {
					fr.WriteContinuation(1, false, frag.Bytes())
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"SETTINGS flood", func(c *rawH2) {
			c.flood(func(fr *http2.Framer) {
				for range 2000 {
					fr.WriteSettings()
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"PING flood", func(c *rawH2) {
			c.flood(func(fr *http2.Framer) {
				for range 2000 {
					fr.WritePing(false, [8]byte{})
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"stream id going backwards", func(c *rawH2) {
			c.flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block("/sub?topic=back"), EndStream: true, EndHeaders: true})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block("/sub?topic=back"), EndStream: true, EndHeaders: true})
			})
		}, http2.ErrCodeProtocol},
		// A new stream's id must be above every earlier one (RFC 9113
		// §5.1.1): HEADERS on a closed stream's id is PROTOCOL_ERROR.
		{"stream id reused", func(c *rawH2) {
			c.flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/nope"), EndStream: true, EndHeaders: true})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/nope"), EndStream: true, EndHeaders: true})
			})
		}, http2.ErrCodeProtocol},
	} {
		t.Run(a.name, func(t *testing.T) {
			c := dialRawH2(t, s)
			a.attack(c)
			if got := c.goAway(); got != a.want {
				t.Fatalf("GOAWAY %v; want %v", got, a.want)
			}
			waitFor(t, "the attacker's subscribers and connection gone", func() bool {
				subs := int64(0)
				for _, ls := range s.loops {
					subs += ls.Subscribers.Load()
				}
				return subs == 1 && s.counters.h2Conns.Load() == 1 // the bystander's
			})
			if status, n := pub(t, s, "/pub/topic/bystander", a.name); status != 200 || n != 1 {
				t.Fatalf("publish to the bystander = %d, delivered %d; want 200, 1", status, n)
			}
			if f := readFrame(t, bystander.r); f.Data != a.name {
				t.Fatalf("bystander read %+v; want the push after the attack", f)
			}
		})
	}
}

// TestH2HPACKBomb: one-byte references to a large table entry expand past
// --max-header-bytes: the request is answered 431 on its stream and the
// connection carries on.
func TestH2HPACKBomb(t *testing.T) {
	s := testNode(t, nil)
	c := dialRawH2(t, s)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "t"}, {":path", "/sub?topic=bomb"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	// Before the client acknowledges our table size of 0 it may index into
	// 4096 bytes, so the bomb comes with the preface.
	enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)})
	for range 3000 {
		blk.WriteByte(0x80 | 62) // indexed: the entry just added, 4 KiB each
	}
	// Written now, before reading anything: the SETTINGS ACK that reading
	// sends must not overtake it.
	b := blk.Bytes()
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3000], EndStream: true})
	c.fr.WriteContinuation(1, true, b[3000:])
	h := c.until("the answer to the bomb", func(f http2.Frame) bool {
		hf, ok := f.(*http2.HeadersFrame)
		return ok && hf.StreamID == 1
	})
	if got := c.hdrs[1][":status"]; got != "431" || !h.(*http2.HeadersFrame).StreamEnded() {
		t.Fatalf("answer %v; want 431, ending the stream", c.hdrs[1])
	}
	if n := s.loops[0].Subscribers.Load(); n != 0 {
		t.Fatalf("subscribers = %d after a refused request; want 0", n)
	}
	c.get(3, "/sub?topic=after-bomb")
	c.until("a subscribe after the bomb", isData(3, "registered"))
}

// TestH2ZeroConnectionWindow: a client that never opens the connection
// window again holds every stream's output; each stream whose queue passes
// --write-buffer-limit is reset (counted), so what the connection pins stays
// bounded, and the connection still takes new streams.
func TestH2ZeroConnectionWindow(t *testing.T) {
	// The limit is above the 64 KiB connection window: what the window lets
	// out may all be pending at once on the socket, which is the connection's
	// share of the limit; the streams' queues are theirs.
	s := testNode(t, func(c *Config) { c.WriteBufferLimit = 96 << 10 })
	c := dialRawH2(t, s)
	for _, id := range []uint32{1, 3, 5} {
		c.get(id, "/sub?topic=stuck")
		c.until("the registered frame", isData(id, "registered"))
	}
	frames := make(chan http2.Frame, 1000)
	go func() {
		defer close(frames)
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				return
			}
			if _, ok := f.(*http2.DataFrame); !ok {
				frames <- f
			}
		}
	}()
	// 8 KiB messages: the 64 KiB connection window is spent after a few,
	// then each stream's queue passes 96 KiB and it is reset.
	body := strings.Repeat("z", 8<<10)
	reset := map[uint32]bool{}
	seen := func(f http2.Frame) {
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.ErrCode == http2.ErrCodeCancel {
			reset[r.StreamID] = true
		}
	}
	for range 40 {
		pub(t, s, "/pub/topic/stuck", body)
	}
	deadline := time.After(20 * time.Second)
	for len(reset) < 3 {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("the connection closed; want only its streams reset")
			}
			seen(f)
		case <-deadline:
			t.Fatalf("after 40 messages of 8 KiB, streams reset: %v; want all 3", reset)
		}
	}
	if n := s.counters.h2SlowStreams.Load(); n != 3 {
		t.Fatalf("slow streams counted = %d; want 3", n)
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: block("/sub?topic=later"), EndStream: true, EndHeaders: true})
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("the connection closed before answering a new stream")
			}
			if h, isH := f.(*http2.HeadersFrame); isH && h.StreamID == 7 {
				return
			}
		case <-deadline:
			t.Fatal("no answer to a new stream")
		}
	}
}
