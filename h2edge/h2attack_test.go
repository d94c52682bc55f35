package h2edge_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Known HTTP/2 attacks against the edge (#13 item 7), each on its own
// connection next to a bystander connection holding a stream: the attacker
// ends with GOAWAY (or its stream with RST_STREAM / 431) and the right
// code, every subscriber it opened is gone from the table, and the
// bystander still gets its push. The codec's own tests (httpcodec/h2
// guard_test.go) bound the bytes and buffers each attack may cost.

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

func TestH2Attacks(t *testing.T) {
	s := testNode(t, nil)
	bystander := openH2Stream(t, h2cClient(), "http://"+s.EdgeAddr().String()+"/sub?topic=bystander")
	for _, a := range []struct {
		name   string
		attack func(c *nodetest.RawH2)
		want   http2.ErrCode
	}{
		{"rapid reset (CVE-2023-44487): 2,000 subscribes opened and reset", func(c *nodetest.RawH2) {
			blk := block("/sub?topic=rapid")
			c.Flood(func(fr *http2.Framer) {
				for i := range uint32(2000) {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, BlockFragment: blk, EndStream: true, EndHeaders: true})
					fr.WriteRSTStream(2*i+1, http2.ErrCodeCancel)
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"CONTINUATION flood (CVE-2024-27316): a header block that never ends", func(c *nodetest.RawH2) {
			var frag bytes.Buffer // one valid field, never indexed: ~100 bytes
			hpack.NewEncoder(&frag).WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 90), Sensitive: true})
			c.Flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/sub")})
				for range 2000 {
					fr.WriteContinuation(1, false, frag.Bytes())
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"SETTINGS flood", func(c *nodetest.RawH2) {
			c.Flood(func(fr *http2.Framer) {
				for range 2000 {
					fr.WriteSettings()
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"PING flood", func(c *nodetest.RawH2) {
			c.Flood(func(fr *http2.Framer) {
				for range 2000 {
					fr.WritePing(false, [8]byte{})
				}
			})
		}, http2.ErrCodeEnhanceYourCalm},
		{"stream id going backwards", func(c *nodetest.RawH2) {
			c.Flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block("/sub?topic=back"), EndStream: true, EndHeaders: true})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block("/sub?topic=back"), EndStream: true, EndHeaders: true})
			})
		}, http2.ErrCodeProtocol},
		// A new stream's id must be above every earlier one (RFC 9113
		// §5.1.1): HEADERS on a closed stream's id is PROTOCOL_ERROR.
		{"stream id reused", func(c *nodetest.RawH2) {
			c.Flood(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/nope"), EndStream: true, EndHeaders: true})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("/nope"), EndStream: true, EndHeaders: true})
			})
		}, http2.ErrCodeProtocol},
	} {
		t.Run(a.name, func(t *testing.T) {
			c := nodetest.DialRawH2(t, s.EdgeAddr())
			a.attack(c)
			if got := c.GoAway(); got != a.want {
				t.Fatalf("GOAWAY %v; want %v", got, a.want)
			}
			nodetest.WaitFor(t, "the attacker's subscribers and connection gone", func() bool {
				subs := int64(0)
				for _, ls := range s.Loops {
					subs += ls.Subscribers.Load()
				}
				return subs == 1 && s.H2Conns.Load() == 1 // the bystander's
			})
			if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/bystander", a.name); status != 200 || n != 1 {
				t.Fatalf("publish to the bystander = %d, delivered %d; want 200, 1", status, n)
			}
			if f := nodetest.ReadFrame(t, bystander.r); f.Data != a.name {
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
	c := nodetest.DialRawH2(t, s.EdgeAddr())
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
	c.Fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3000], EndStream: true})
	c.Fr.WriteContinuation(1, true, b[3000:])
	h := c.Until("the answer to the bomb", func(f http2.Frame) bool {
		hf, ok := f.(*http2.HeadersFrame)
		return ok && hf.StreamID == 1
	})
	if got := c.Hdrs[1][":status"]; got != "431" || !h.(*http2.HeadersFrame).StreamEnded() {
		t.Fatalf("answer %v; want 431, ending the stream", c.Hdrs[1])
	}
	if n := s.Loops[0].Subscribers.Load(); n != 0 {
		t.Fatalf("subscribers = %d after a refused request; want 0", n)
	}
	c.Get(3, "/sub?topic=after-bomb")
	c.Until("a subscribe after the bomb", nodetest.IsData(3, "registered"))
}

// TestH2ZeroConnectionWindow: a client that never opens the connection
// window again holds every stream's output. A stream whose queue passes
// --write-buffer-limit on its own is reset (counted), and the connection
// carries on and still takes new streams: here each stream has a topic of
// its own, published to in turn, so one stream at a time holds the queue.
// (Streams that queue together past the limit cut the connection:
// TestH2ConnectionQueueOverLimitIsCut.)
func TestH2ZeroConnectionWindow(t *testing.T) {
	// The limit is above the 64 KiB connection window: what the window lets
	// out may all be pending at once on the socket, which is the connection's
	// share of the limit; the streams' queues are theirs.
	s := testNode(t, func(c *server.Config) { c.WriteBufferLimit = 96 << 10 })
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	for _, id := range []uint32{1, 3, 5} {
		c.Get(id, fmt.Sprintf("/sub?topic=stuck%d", id))
		c.Until("the registered frame", nodetest.IsData(id, "registered"))
	}
	frames := controlFrames(c)
	// 8 KiB messages: the 64 KiB connection window is spent after a few,
	// then the stream's queue passes 96 KiB and it is reset.
	body := strings.Repeat("z", 8<<10)
	reset := map[uint32]bool{}
	seen := func(f http2.Frame) {
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.ErrCode == http2.ErrCodeCancel {
				reset[f.StreamID] = true
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v; want only the streams reset, one at a time", f.ErrCode)
		}
	}
	deadline := time.After(20 * time.Second)
	for _, id := range []uint32{1, 3, 5} {
		for range 40 {
			nodetest.Pub(t, s.APIAddr(), fmt.Sprintf("/pub/topic/stuck%d", id), body)
		}
		for !reset[id] {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatal("the connection closed; want only its streams reset")
				}
				seen(f)
			case <-deadline:
				t.Fatalf("after 40 messages of 8 KiB to stream %d, streams reset: %v; want %d among them", id, reset, id)
			}
		}
	}
	if n := s.H2SlowStreams.Load(); n != 3 {
		t.Fatalf("slow streams counted = %d; want 3", n)
	}
	if n := s.H2SlowConns.Load(); n != 0 {
		t.Fatalf("slow connections counted = %d; want 0", n)
	}
	c.Fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: block("/sub?topic=later"), EndStream: true, EndHeaders: true})
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
