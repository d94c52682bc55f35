package h2edge_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"golang.org/x/net/http2"
)

// --write-buffer-limit for an HTTP/2 connection as a whole (SPEC §7, review
// 7 finding 6): the DATA its streams queue behind the client's windows
// counts against one limit per connection, not one per stream.

// apiGet returns the body of GET path on s's api listener.
func apiGet(t *testing.T, s *server.Server, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.APIAddr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// stats returns the numbers of s's /stats.
func stats(t *testing.T, s *server.Server) map[string]float64 {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(apiGet(t, s, "/stats")), &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// openStreams opens n subscribe streams (ids 1, 3, ...) on c to path and
// reads until each has its registered frame.
func openStreams(t *testing.T, c *nodetest.RawH2, n int, path string) {
	t.Helper()
	for i := range n {
		c.Get(uint32(2*i+1), path)
	}
	registered := map[uint32]bool{}
	for len(registered) < n {
		f := c.Next(true)
		if f == nil {
			t.Fatalf("connection ended after %d of %d registered frames", len(registered), n)
		}
		if d, ok := f.(*http2.DataFrame); ok && strings.Contains(string(d.Data()), "registered") {
			registered[d.StreamID] = true
		}
	}
}

// controlFrames reads c in the background from now on and hands over every
// frame but DATA; the channel closes when the connection ends.
func controlFrames(c *nodetest.RawH2) <-chan http2.Frame {
	frames := make(chan http2.Frame, 1000)
	go func() {
		defer close(frames)
		for {
			f, err := c.Fr.ReadFrame()
			if err != nil {
				return
			}
			if _, ok := f.(*http2.DataFrame); !ok {
				frames <- f
			}
		}
	}()
	return frames
}

// TestH2ConnectionQueueOverLimitIsCut: the attack of finding 6. A client
// opens 20 streams with wide-open stream windows and never gives back the
// connection window: every stream's DATA queues, each stream under the
// limit on its own (15 messages of 4 KiB: 60 KiB a stream, the limit 64 KiB),
// the connection far over it (1.2 MiB). The connection is cut as a slow
// consumer: GOAWAY ENHANCE_YOUR_CALM, then closed; no stream is reset first;
// it is counted as an HTTP/1.1 slow consumer is (/stats slow_consumers and
// drops, /metrics pushwire_drops_total), its subscribers leave, and a
// bystander connection still gets its push.
func TestH2ConnectionQueueOverLimitIsCut(t *testing.T) {
	const limit = 64 << 10
	s := testNode(t, func(c *server.Config) { c.WriteBufferLimit = limit })
	bystander := openH2Stream(t, h2cClient(), "http://"+s.EdgeAddr().String()+"/sub?topic=bystander")
	c := nodetest.DialRawH2(t, s.EdgeAddr(), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	const streams = 20
	openStreams(t, c, streams, "/sub?topic=flood")

	c.Conn.SetDeadline(time.Now().Add(time.Minute)) // past the wait for GOAWAY below
	frames := controlFrames(c)
	var goAway *http2.GoAwayFrame
	resets := 0
	seen := func(f http2.Frame) {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			goAway = f
		case *http2.RSTStreamFrame:
			resets++
		}
	}
	body := strings.Repeat("x", 4<<10)
	for i := 0; i < limit/len(body)-1 && goAway == nil; i++ { // per stream: under the limit
		if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/flood", body); status != 200 || n != streams {
			t.Fatalf("publish %d = %d, delivered %d; want 200, %d", i, status, n, streams)
		}
		for drained := false; !drained; {
			select {
			case f, ok := <-frames:
				if !ok {
					drained = true
					break
				}
				seen(f)
			default:
				drained = true
			}
		}
	}
	deadline := time.After(20 * time.Second)
	for goAway == nil {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the connection closed without GOAWAY (%d RST_STREAM)", resets)
			}
			seen(f)
		case <-deadline:
			t.Fatalf("%d streams behind a shut connection window, %d x 4 KiB each: no GOAWAY, %d RST_STREAM, "+
				"the connection open; want it cut as a slow consumer past --write-buffer-limit (%d B a connection)",
				streams, limit/len(body)-1, resets, limit)
		}
	}
	if goAway.ErrCode != http2.ErrCodeEnhanceYourCalm || resets != 0 {
		t.Fatalf("GOAWAY %v after %d RST_STREAM; want ENHANCE_YOUR_CALM, no stream reset first", goAway.ErrCode, resets)
	}
	c.Conn.(*net.TCPConn).CloseWrite() // the server's lingering close waits for our FIN
	for f := range frames {
		t.Fatalf("frame %v after GOAWAY; want the connection closed", f)
	}

	nodetest.WaitFor(t, "the cut connection's subscribers and connection gone", func() bool {
		st := stats(t, s)
		return st["connections"] == 1 && st["h2_connections"] == 1 // the bystander's
	})
	st := stats(t, s)
	if st["slow_consumers"] != 1 || st["drops"] != 1 || st["h2_slow_streams"] != 0 {
		t.Fatalf("/stats slow_consumers %v, drops %v, h2_slow_streams %v; want 1, 1, 0",
			st["slow_consumers"], st["drops"], st["h2_slow_streams"])
	}
	if m := apiGet(t, s, "/metrics"); !strings.Contains(m, "\npushwire_drops_total 1\n") {
		t.Fatalf("/metrics does not count the cut: want pushwire_drops_total 1")
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/bystander", "after"); status != 200 || n != 1 {
		t.Fatalf("publish to the bystander = %d, delivered %d; want 200, 1", status, n)
	}
	if f := nodetest.ReadFrame(t, bystander.r); f.Data != "after" {
		t.Fatalf("bystander read %+v; want the push after the cut", f)
	}
}

// TestH2BurstBehindSmallConnectionWindowIsNotCut: a client that keeps the
// RFC's 65,535-byte connection window and gives it back as it reads is not
// slow. A broadcast to its 100 streams (100 x 2 KiB, three times a 64 KiB
// limit) mostly waits in the codec for its WINDOW_UPDATEs; as the engine
// lets a connection that has drained take one loop turn's burst past the
// limit, the codec's queue may too, and the client gets every message,
// twice over, without a slow consumer counted.
func TestH2BurstBehindSmallConnectionWindowIsNotCut(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.WriteBufferLimit = 64 << 10 })
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	const streams = 100
	openStreams(t, c, streams, "/sub?topic=burst")
	body := strings.Repeat("b", 2<<10)
	for round := range 2 {
		if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/burst", body); status != 200 || n != streams {
			t.Fatalf("round %d: publish = %d, delivered %d; want 200, %d", round, status, n, streams)
		}
		got := map[uint32]string{} // DATA read, by stream
		for done := 0; done < streams; {
			f := c.Next(true)
			switch f := f.(type) {
			case nil:
				t.Fatalf("round %d: the connection ended after %d of %d streams got the message", round, done, streams)
			case *http2.GoAwayFrame:
				t.Fatalf("round %d: GOAWAY %v after %d of %d streams got the message; want no cut", round, f.ErrCode, done, streams)
			case *http2.RSTStreamFrame:
				t.Fatalf("round %d: RST_STREAM %v on stream %d; want no cut", round, f.ErrCode, f.StreamID)
			case *http2.DataFrame:
				if n := len(f.Data()); n > 0 { // read: give the windows back, as a client does
					c.Fr.WriteWindowUpdate(0, uint32(n))
					c.Fr.WriteWindowUpdate(f.StreamID, uint32(n))
				}
				had := strings.Contains(got[f.StreamID], body)
				got[f.StreamID] += string(f.Data())
				if !had && strings.Contains(got[f.StreamID], body) {
					done++
				}
			}
		}
	}
	if st := stats(t, s); st["slow_consumers"] != 0 || st["drops"] != 0 || st["h2_connections"] != 1 || st["connections"] != streams {
		t.Fatalf("/stats slow_consumers %v, drops %v, h2_connections %v, connections %v; want 0, 0, 1, %d",
			st["slow_consumers"], st["drops"], st["h2_connections"], st["connections"], streams)
	}
}

// TestH2BurstHeldOverLimitCutAtNextWrite: the burst allowance lasts one loop
// turn. A client that takes one broadcast past the limit (20 x 8 KiB behind
// its 64 KiB connection window, never given back) and gets no further push
// is cut at the connection's next write all the same: the next heartbeat.
func TestH2BurstHeldOverLimitCutAtNextWrite(t *testing.T) {
	s := testNode(t, func(c *server.Config) {
		c.WriteBufferLimit = 64 << 10
		c.Heartbeat = 200 * time.Millisecond
	})
	c := nodetest.DialRawH2(t, s.EdgeAddr(), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	const streams = 20
	openStreams(t, c, streams, "/sub?topic=once")
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/once", strings.Repeat("o", 8<<10)); status != 200 || n != streams {
		t.Fatalf("publish = %d, delivered %d; want 200, %d", status, n, streams)
	}
	if got := c.GoAway(); got != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v; want ENHANCE_YOUR_CALM", got)
	}
	nodetest.WaitFor(t, "the cut counted", func() bool { return stats(t, s)["slow_consumers"] == 1 })
}
