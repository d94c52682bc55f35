package h2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// steady returns a server with stream 1 answered and windows wide open,
// as a subscriber's connection is once the client reads.
func steady(t testing.TB, ids ...uint32) (*server, *client) {
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	cl.enc.SetMaxDynamicTableSizeLimit(0)
	cl.fr.WriteSettingsAck()
	cl.fr.WriteWindowUpdate(0, 1<<31-1-defaultWindow)
	for _, id := range ids {
		cl.get(id, "/sub")
	}
	s := newServer(Config{})
	s.feed(t, cl.take())
	for _, id := range ids {
		s.out, _ = s.c.WriteHeaders(s.out, id, 200, []Field{{"content-type", "text/event-stream"}}, false)
	}
	s.out = s.out[:0]
	return s, cl
}

// TestWriteDataAllocs: a DATA frame written in steady state allocates
// nothing, for one stream or a broadcast to ten.
func TestWriteDataAllocs(t *testing.T) {
	ids := []uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
	s, _ := steady(t, ids...)
	msg := []byte("id: 42\nevent: message\ndata: {\"hello\":\"world\"}\n\n")
	out := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() {
		out, _ = s.c.WriteData(out[:0], 1, msg, false)
	}); n != 0 {
		t.Errorf("WriteData = %v allocs/op; want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		out = out[:0]
		for _, id := range ids {
			out, _ = s.c.WriteData(out, id, msg, false)
		}
	}); n != 0 {
		t.Errorf("WriteData to 10 streams = %v allocs/op; want 0", n)
	}
}

// TestFeedControlAllocs: the frames a subscriber's client sends while it
// reads (WINDOW_UPDATE, PING) cost no allocation.
func TestFeedControlAllocs(t *testing.T) {
	s, cl := steady(t, 1)
	cl.fr.WriteWindowUpdate(1, 1000)
	cl.fr.WritePing(false, [8]byte{1})
	cl.fr.WritePing(true, [8]byte{1})
	in := cl.take()
	out := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() {
		s.c.pingsOut = 1
		s.c.Tick()
		rest := in
		for len(rest) > 0 {
			var n int
			out, n, _ = s.c.Feed(out[:0], rest)
			rest = rest[n:]
		}
	}); n != 0 {
		t.Errorf("Feed(WINDOW_UPDATE, PING, PING ACK) = %v allocs/op; want 0", n)
	}
}

func BenchmarkWriteData(b *testing.B) {
	s, _ := steady(b, 1)
	msg := []byte("id: 42\nevent: message\ndata: {\"hello\":\"world\"}\n\n")
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		out, _ = s.c.WriteData(out[:0], 1, msg, false)
	}
}

// BenchmarkFramerWriteData is the baseline: x/net's Framer writing the
// same frame into a buffer.
func BenchmarkFramerWriteData(b *testing.B) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	msg := []byte("id: 42\nevent: message\ndata: {\"hello\":\"world\"}\n\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf.Reset()
		fr.WriteData(1, false, msg)
	}
}

// BenchmarkBroadcast10Streams: one message to ten streams of a connection,
// coalesced into one buffer (one write for the loop).
func BenchmarkBroadcast10Streams(b *testing.B) {
	ids := []uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
	s, _ := steady(b, ids...)
	msg := []byte("id: 42\nevent: message\ndata: {\"hello\":\"world\"}\n\n")
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg) * len(ids)))
	for b.Loop() {
		out = out[:0]
		for _, id := range ids {
			out, _ = s.c.WriteData(out, id, msg, false)
		}
	}
}

// BenchmarkBroadcast100Streams: the same at the stream limit, where the
// linear stream lookup is longest.
func BenchmarkBroadcast100Streams(b *testing.B) {
	ids := make([]uint32, 100)
	for i := range ids {
		ids[i] = uint32(2*i + 1)
	}
	s, _ := steady(b, ids...)
	msg := []byte("id: 42\nevent: message\ndata: {\"hello\":\"world\"}\n\n")
	out := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg) * len(ids)))
	for b.Loop() {
		out = out[:0]
		for _, id := range ids {
			out, _ = s.c.WriteData(out, id, msg, false)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/frame")
}

// respFields are a stream's response fields.
var respFields = []Field{
	{"content-type", "text/event-stream"}, {"cache-control", "no-cache"},
	{"x-accel-buffering", "no"}, {"access-control-allow-origin", "*"},
}

// BenchmarkFeedRequest: a browser-sized GET decoded (the HPACK decoder's
// strings are the allocations; a subscription makes one request).
func BenchmarkFeedRequest(b *testing.B) {
	s, cl := steady(b)
	const n = 1000
	for i := range n {
		cl.get(uint32(2*i+1), "/sub?topic=news&format=sse", "user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
			"accept", "text/event-stream", "cookie", "session=0123456789abcdef", "accept-language", "en-US,en;q=0.9")
		cl.fr.WriteRSTStream(uint32(2*i+1), http2.ErrCodeCancel)
	}
	in := cl.take()
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c := *s.c // a copy of the ready connection: ids start over
		c.streams = nil
		rest := in
		for len(rest) > 0 {
			var k int
			out, k, _ = c.Feed(out[:0], rest)
			rest = rest[k:]
			c.Tick()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/request")
}
