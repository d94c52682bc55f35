package h2

import (
	"runtime"
	"testing"
)

// heapPerConn builds n connections with the given streams open and
// answered, idle as a subscriber connection is between pushes, and returns
// the heap bytes each holds.
func heapPerConn(t *testing.T, n int, ids []uint32, ack bool, extra ...string) float64 {
	t.Helper()
	// Client input: a browser-sized GET per stream.
	cl := newClient()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	if ack {
		cl.enc.SetMaxDynamicTableSizeLimit(0)
		cl.fr.WriteSettingsAck()
	}
	for _, id := range ids {
		cl.get(id, "/sub?topic=news", append([]string{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
			"accept", "text/event-stream", "cookie", "session=0123456789abcdef0123456789abcdef"}, extra...)...)
	}
	in := cl.take()
	out := make([]byte, 0, 64<<10)
	conns := make([]*Conn, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range conns {
		c := NewConn(Config{})
		out = c.Start(out[:0])
		rest := in
		for {
			var k int
			var ev Event
			out, k, ev = c.Feed(out[:0], rest)
			rest = rest[k:]
			if ev.Kind == EventRequest {
				out, _ = c.WriteHeaders(out[:0], ev.Stream, 200, respFields, false)
				out, _ = c.WriteData(out[:0], ev.Stream, []byte("retry: 1000\n\n"), false)
			}
			if ev.Kind == EventNone {
				break
			}
		}
		if c.NumStreams() != len(ids) || c.hb != nil {
			t.Fatalf("conn %d: %d streams, field buffer held = %v", i, c.NumStreams(), c.hb != nil)
		}
		conns[i] = c
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestIdleMemory: what an idle h2 connection costs in this package, against
// the targets (≤ 1 KiB with one stream, since an HTTP/1.1 subscriber holds
// no codec state between requests; ≤ 200 B per further stream). The HPACK
// decoder is gone once the client acknowledged our table size of 0.
func TestIdleMemory(t *testing.T) {
	const n = 2000
	one := heapPerConn(t, n, []uint32{1}, true)
	ids := make([]uint32, 11)
	for i := range ids {
		ids[i] = uint32(2*i + 1)
	}
	eleven := heapPerConn(t, n, ids, true)
	perStream := (eleven - one) / 10
	noAck := heapPerConn(t, n, []uint32{1}, false)
	// The worst a client that never acknowledges can make us keep: its
	// 4096-byte table filled with the smallest entries (33 bytes each).
	var small []string
	for i := range 110 {
		small = append(small, "x"+itoa(i), "")
	}
	worst := heapPerConn(t, 200, []uint32{1}, false, small...)
	t.Logf("idle connection with 1 stream: %.0f B; each further stream: %.0f B; "+
		"1 stream, client never acknowledged our SETTINGS (decoder kept with its table): %.0f B, its table full of the smallest entries: %.0f B",
		one, perStream, noAck, worst)
	if worst > 32<<10 {
		t.Errorf("a full 4096-byte HPACK table costs %.0f B; bound 32 KiB", worst)
	}
	if one > 1024 {
		t.Errorf("idle connection with one stream holds %.0f B; target ≤ 1024", one)
	}
	if perStream > 200 {
		t.Errorf("each further stream holds %.0f B; target ≤ 200", perStream)
	}
}
