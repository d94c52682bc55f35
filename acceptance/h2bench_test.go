package acceptance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/perf"
	"golang.org/x/net/http2"
)

// BenchmarkH2VsHTTP1 measures HTTP/2 against HTTP/1.1 on the real binary in
// one run (#13 item 5): server RSS per idle subscriber and the server CPU
// per delivery of a broadcast, 15,000 subscribers as 15,000 HTTP/1.1
// connections or as 1,500 h2c connections of 10 streams, plus 1,500
// connections of one stream each way (what an h2 connection costs over an
// HTTP/1.1 one). Each case runs its own server process; the clients are
// this process (a goroutine per connection: their cost is not the server's).
//
//	go test -run '^$' -bench H2VsHTTP1 -benchtime 1x ./acceptance/
func BenchmarkH2VsHTTP1(b *testing.B) {
	type result struct{ rssPerSub, heapPerSub, cpuPerDelivery float64 }
	res := map[string]result{}
	for _, c := range []struct {
		name           string
		conns, streams int
		h2             bool
	}{
		{"http1.1-1500x1", 1500, 1, false},
		{"h2-1500x1", 1500, 1, true},
		{"http1.1-15000x1", 15000, 1, false},
		{"h2-1500x10", 1500, 10, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				rss, heap, cpu := benchH2Case(b, c.conns, c.streams, c.h2)
				res[c.name] = result{rss, heap, cpu}
				b.ReportMetric(rss, "rss-B/subscriber")
				b.ReportMetric(heap, "heap-B/subscriber")
				b.ReportMetric(cpu, "server-µs/delivery")
			}
		})
	}
	if h1, h2 := res["http1.1-1500x1"], res["h2-1500x1"]; h1.heapPerSub > 0 && h2.heapPerSub > 0 {
		b.Logf("an h2 connection with one stream: %+.0f B of RSS, %+.0f B of live heap against an HTTP/1.1 one",
			h2.rssPerSub-h1.rssPerSub, h2.heapPerSub-h1.heapPerSub)
		if h10 := res["h2-1500x10"]; h10.heapPerSub > 0 {
			b.Logf("each further stream: %.0f B of RSS, %.0f B of live heap",
				(h10.rssPerSub*15000-h2.rssPerSub*1500)/13500, (h10.heapPerSub*15000-h2.heapPerSub*1500)/13500)
		}
	}
	if h1, h2 := res["http1.1-15000x1"], res["h2-1500x10"]; h1.cpuPerDelivery > 0 {
		b.Logf("broadcast to 15,000: server CPU per delivery h2/HTTP/1.1 = %.3f (%.2f / %.2f µs)", h2.cpuPerDelivery/h1.cpuPerDelivery, h2.cpuPerDelivery, h1.cpuPerDelivery)
	}
}

// benchBroadcasts is how many broadcasts the CPU figure averages.
const benchBroadcasts = 20

// benchH2Case starts a server, holds conns×streams subscribers on it, and
// returns the server's RSS growth per subscriber and its CPU per delivery of
// a broadcast to them.
func benchH2Case(b *testing.B, conns, streams int, h2 bool) (rssPerSub, heapPerSub, cpuPerDelivery float64) {
	cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	var edge, api string
	for sc.Scan() {
		if m := startedLine.FindStringSubmatch(sc.Text()); m != nil {
			edge, api = m[1], m[2]
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	if edge == "" {
		b.Fatal("pushwire did not start")
	}
	pids := []int{cmd.Process.Pid}
	time.Sleep(time.Second)
	heap0 := liveHeap(b, api)
	before, err := perf.SampleProcs(pids)
	if err != nil {
		b.Fatal(err)
	}
	var registered, messages atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	var clients []net.Conn
	var mu sync.Mutex
	for range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", edge)
			<-sem
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			clients = append(clients, c)
			mu.Unlock()
			if h2 {
				holdH2(c, streams, &registered, &messages)
			} else {
				holdHTTP1(c, &registered, &messages)
			}
		}()
	}
	subs := int64(conns * streams)
	waitUntilCount(b, &registered, subs, "subscribers registered")
	time.Sleep(2 * time.Second) // settle, as pushbench idle does
	after, err := perf.SampleProcs(pids)
	if err != nil {
		b.Fatal(err)
	}
	rssPerSub = float64(after.RSSBytes-before.RSSBytes) / float64(subs)
	heapPerSub = float64(liveHeap(b, api)-heap0) / float64(subs)

	cpu0, _ := perf.SampleProcs(pids)
	for i := range benchBroadcasts {
		resp, err := http.Post("http://"+api+"/pub/topic/bench", "text/plain", strings.NewReader("broadcast"))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		waitUntilCount(b, &messages, subs*int64(i+1), "broadcast delivered")
	}
	cpu1, _ := perf.SampleProcs(pids)
	cpuPerDelivery = float64((cpu1.CPU - cpu0.CPU).Microseconds()) / float64(subs*benchBroadcasts)
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()
	return rssPerSub, heapPerSub, cpuPerDelivery
}

// liveHeap is the server's live heap after a collection (/debug/pprof/heap
// with gc=1): what RSS holds apart from the collector's headroom and the
// garbage of the connect storm.
func liveHeap(b *testing.B, api string) int64 {
	// Twice: the first collection only moves pooled objects (sync.Pool) to
	// the victim cache, the second frees them, as an idle server's periodic
	// collections would.
	if resp, err := http.Get("http://" + api + "/debug/pprof/heap?debug=1&gc=1"); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + api + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "# HeapAlloc = "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no HeapAlloc in /debug/pprof/heap")
	return 0
}

func waitUntilCount(b *testing.B, v *atomic.Int64, want int64, what string) {
	deadline := time.Now().Add(3 * time.Minute)
	for v.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d", what, v.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	registeredMark = []byte(`"state":"registered"`)
	messageMark    = []byte(`"protocol":2`)
)

// holdHTTP1 subscribes on c and counts the frames it reads (marks split
// across reads are kept by carrying a tail).
func holdHTTP1(c net.Conn, registered, messages *atomic.Int64) {
	fmt.Fprintf(c, "GET /sub?topic=bench HTTP/1.1\r\nHost: b\r\n\r\n")
	buf := make([]byte, 8<<10)
	carry := 0
	for {
		n, err := c.Read(buf[carry:])
		if err != nil {
			return
		}
		data := buf[:carry+n]
		registered.Add(int64(bytes.Count(data, registeredMark)))
		messages.Add(int64(bytes.Count(data, messageMark)))
		carry = min(len(data), len(registeredMark)-1)
		copy(buf, data[len(data)-carry:])
	}
}

// holdH2 opens streams subscribe streams on c (h2c, windows opened wide so
// flow control never waits) and counts the frames of their DATA.
func holdH2(c net.Conn, streams int, registered, messages *atomic.Int64) {
	fr, w := openH2Streams(c, "/sub?topic=bench", streams)
	w.Flush()
	readH2Frames(fr, w, func(f http2.Frame) {
		if f, ok := f.(*http2.DataFrame); ok {
			if d := f.Data(); bytes.Contains(d, messageMark) {
				messages.Add(1)
			} else if bytes.Contains(d, registeredMark) {
				registered.Add(1)
			}
		}
	})
}
