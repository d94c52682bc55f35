package h2

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// randomSession writes a random valid client session with x/net's Framer:
// requests with and without bodies (padded DATA, HEADERS cut into
// CONTINUATION, trailers), resets, PINGs, window updates, PRIORITY and
// unknown frames.
func randomSession(rng *rand.Rand) []byte {
	cl := newClient().preface()
	next := uint32(1)
	type open struct {
		id   uint32
		left int // body bytes the stream window still allows
	}
	var streams []open
	for range 40 + rng.IntN(60) {
		switch op := rng.IntN(10); {
		case op < 3 && len(streams) < 20: // a request
			id := next
			next += 2 + 2*uint32(rng.IntN(2))
			kv := []string{":method", "POST", ":scheme", "https", ":authority", "h", ":path", fmt.Sprintf("/p%d?q=%d", id, rng.IntN(100))}
			for range rng.IntN(4) {
				kv = append(kv, fmt.Sprintf("x-%d", rng.IntN(5)), strings.Repeat("v", rng.IntN(300)))
			}
			end := rng.IntN(3) == 0
			b := cl.block(kv...)
			cut := rng.IntN(len(b) + 1)
			pad := []byte(nil)
			if rng.IntN(2) == 0 {
				pad = make([]byte, rng.IntN(20))
			}
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b[:cut], EndStream: end,
				EndHeaders: cut == len(b), PadLength: uint8(len(pad))})
			if cut < len(b) {
				mid := cut + rng.IntN(len(b)-cut+1)
				if mid > cut {
					cl.fr.WriteContinuation(id, false, b[cut:mid])
				}
				cl.fr.WriteContinuation(id, true, b[mid:])
			}
			if !end {
				streams = append(streams, open{id, defaultMaxBody})
			}
		case op < 6 && len(streams) > 0: // body bytes
			i := rng.IntN(len(streams))
			s := &streams[i]
			n := rng.IntN(min(s.left, 1000) + 1)
			data := bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n)
			end := rng.IntN(3) == 0
			if padLen := rng.IntN(30); rng.IntN(2) == 0 && n+padLen+1 <= s.left {
				cl.fr.WriteDataPadded(s.id, end, data, make([]byte, padLen))
				s.left -= n + padLen + 1
			} else {
				cl.fr.WriteData(s.id, end, data)
				s.left -= n
			}
			if end {
				streams = slices.Delete(streams, i, i+1)
			}
		case op == 6 && len(streams) > 0: // trailers or a reset
			i := rng.IntN(len(streams))
			if rng.IntN(2) == 0 {
				cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: streams[i].id, EndStream: true, EndHeaders: true,
					BlockFragment: cl.block("x-trailer", "t")})
			} else {
				cl.fr.WriteRSTStream(streams[i].id, http2.ErrCodeCancel)
			}
			streams = slices.Delete(streams, i, i+1)
		case op == 7:
			cl.fr.WritePing(false, [8]byte{byte(rng.IntN(256)), 1, 2, 3})
		case op == 8:
			cl.fr.WriteWindowUpdate(0, uint32(1+rng.IntN(1000)))
		default:
			if rng.IntN(2) == 0 {
				cl.fr.WritePriority(next+10, http2.PriorityParam{StreamDep: 0, Weight: uint8(rng.IntN(256))})
			} else {
				cl.fr.WriteRawFrame(http2.FrameType(0x20+rng.IntN(100)), http2.Flags(rng.IntN(256)), uint32(rng.IntN(10)), make([]byte, rng.IntN(50)))
			}
		}
	}
	return cl.take()
}

// expectSession reads a client session with x/net's Framer and says what
// our Conn must report and answer (WINDOW_UPDATEs, our replenishing policy,
// aside).
func expectSession(t *testing.T, in []byte) (events, out []string) {
	fr := http2.NewFramer(io.Discard, bytes.NewReader(in[len(ClientPreface):]))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	events = []string{"ready"}
	out = []string{"SETTINGS ack"}
	open := map[uint32]bool{}
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("x/net Framer rejects the session: %v", err)
		}
		rec := server{events: events}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if open[f.StreamID] { // trailers
				rec.record(Event{Kind: EventData, Stream: f.StreamID, EndStream: true})
				delete(open, f.StreamID)
				break
			}
			var b strings.Builder
			fmt.Fprintf(&b, "request %d %s %s://%s%s", f.StreamID, f.PseudoValue("method"), f.PseudoValue("scheme"), f.PseudoValue("authority"), f.PseudoValue("path"))
			for _, hf := range f.RegularFields() {
				fmt.Fprintf(&b, " %s=%s", hf.Name, hf.Value)
			}
			if f.StreamEnded() {
				b.WriteString(" end")
			} else {
				open[f.StreamID] = true
			}
			rec.events = append(rec.events, b.String())
		case *http2.DataFrame:
			if len(f.Data()) == 0 && !f.StreamEnded() {
				break // carries nothing: Conn reports nothing
			}
			rec.record(Event{Kind: EventData, Stream: f.StreamID, Data: f.Data(), EndStream: f.StreamEnded()})
			if f.StreamEnded() {
				delete(open, f.StreamID)
			}
		case *http2.RSTStreamFrame:
			rec.record(Event{Kind: EventReset, Stream: f.StreamID, Code: ErrCode(f.ErrCode)})
			delete(open, f.StreamID)
		case *http2.WindowUpdateFrame:
			rec.record(Event{Kind: EventWindow, Stream: f.StreamID})
		case *http2.PingFrame:
			out = append(out, fmt.Sprintf("PING ack %x", f.Data))
		}
		events = rec.events
	}
}

// TestDifferentialFramer: random valid sessions written by x/net's Framer
// and read by it give the events our Conn must report, fed in random
// pieces; our answers must parse with the Framer too.
func TestDifferentialFramer(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 99))
		in := randomSession(rng)
		wantEvents, wantOut := expectSession(t, in)
		s := newServer(Config{})
		var cuts []int
		for at := rng.IntN(30); at < len(in); at += 1 + rng.IntN(200) {
			cuts = append(cuts, at)
		}
		s.feed(t, in, cuts...)
		if !slices.Equal(s.events, wantEvents) {
			i := 0
			for i < min(len(s.events), len(wantEvents)) && s.events[i] == wantEvents[i] {
				i++
			}
			t.Fatalf("seed %d: event %d of %d differs from x/net's reading:\n got %.200q\nwant %.200q", seed, i, len(wantEvents), s.events[i:], wantEvents[i:])
		}
		var gotOut []string
		for _, f := range s.frames(t) {
			if !strings.HasPrefix(f, "WINDOW_UPDATE 0 ") {
				gotOut = append(gotOut, f)
			}
		}
		if !slices.Equal(gotOut, wantOut) {
			t.Fatalf("seed %d: answers:\n got %q\nwant %q", seed, gotOut, wantOut)
		}
	}
}
