package acceptance

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2ConnectionQueueOverLimitCut (review 7, finding 6, with the real
// binary and its defaults): a client opens 100 subscribe streams with
// wide-open stream windows and never sends a connection WINDOW_UPDATE, so
// after 65,535 bytes every stream's DATA queues on the server. 60 x 4 KiB to
// each keeps every stream under --write-buffer-limit (256 KiB) on its own,
// and once put 24 MiB in the server's memory for this one connection. SPEC
// §7 holds the limit per connection: the connection is cut as a slow
// consumer (GOAWAY ENHANCE_YOUR_CALM, then closed), no stream is reset
// before, and it is counted as an HTTP/1.1 slow consumer is (/stats
// slow_consumers and drops, /metrics pushwire_drops_total).
func TestH2ConnectionQueueOverLimitCut(t *testing.T) {
	n := startNode(t)
	c, err := net.DialTimeout("tcp", n.edge, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := bufio.NewWriter(c)
	w.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(w, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}) // streams wide open
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/sub?topic=big"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	const streams = 100
	for i := range streams {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true})
	}
	w.Flush()
	var resets, data atomic.Int64
	var goAway atomic.Value // http2.ErrCode of the GOAWAY
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		readH2Frames(fr, w, func(f http2.Frame) {
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				resets.Add(1)
			case *http2.GoAwayFrame:
				goAway.Store(f.ErrCode)
			case *http2.DataFrame:
				data.Add(int64(len(f.Data())))
			}
		})
	}()
	waitSubscribers(t, n, streams)
	rss0 := rssKB(t, n.cmd.Process.Pid)
	body := strings.Repeat("x", 4096)
	sent := 0
	for ; sent < 60 && goAway.Load() == nil; sent++ { // 240 KiB a stream: under the limit on its own
		n.mustPub(200, "topic/big", body)
	}
	select {
	case <-ended:
	case <-time.After(ioTimeout):
		t.Fatalf("after %d x 4 KiB to %d streams: the client read %d DATA bytes, %d RST_STREAM, GOAWAY %v, the connection open; "+
			"want it cut as a slow consumer past --write-buffer-limit (256 KiB a connection)", sent, streams, data.Load(), resets.Load(), goAway.Load())
	}
	t.Logf("cut after %d x 4 KiB to %d streams: the client read %d DATA bytes; server RSS %d -> %d KiB",
		sent, streams, data.Load(), rss0, rssKB(t, n.cmd.Process.Pid))
	if code, _ := goAway.Load().(http2.ErrCode); code != http2.ErrCodeEnhanceYourCalm || resets.Load() != 0 {
		t.Fatalf("the connection ended with GOAWAY %v after %d RST_STREAM; want GOAWAY ENHANCE_YOUR_CALM, no stream reset first",
			goAway.Load(), resets.Load())
	}
	waitFor(t, 20*time.Second, "the cut connection's subscribers to leave", func() bool {
		st := n.stats()
		return st["connections"] == 0 && st["h2_connections"] == 0
	})
	if st := n.stats(); st["slow_consumers"] != 1 || st["drops"] != 1 || st["h2_slow_streams"] != 0 {
		t.Fatalf("/stats slow_consumers %v, drops %v, h2_slow_streams %v; want 1, 1, 0", st["slow_consumers"], st["drops"], st["h2_slow_streams"])
	}
	if m := n.do("GET", "/metrics", ""); !strings.Contains(string(m.body), "\npushwire_drops_total 1\n") {
		t.Fatal("/metrics: want pushwire_drops_total 1 for the cut connection")
	}
}
