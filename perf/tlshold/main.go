// Command tlshold measures what idle subscribers cost a server, over TLS or plaintext: it
// holds N streams from this (separate) process and reports the server's RSS growth per
// connection and, for pushwire, its goroutines (issue 12, BENCHMARKS.md "TLS").
//
//	tlshold -addr 127.0.0.1:8443 -tls -n 15000 -pid $(pidof pushwire) -api 127.0.0.1:8081
//
// With -baseline ADDR it is instead the baseline server: crypto/tls with one goroutine per
// connection (what a Go server built on the standard library holds per idle TLS stream),
// serving every request a never-ending SSE stream.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	useTLS := flag.Bool("tls", false, "connect with TLS (any certificate accepted)")
	vers := flag.String("version", "", "TLS version: 1.2, 1.3 or empty for the highest")
	n := flag.Int("n", 1000, "subscribers to hold")
	path := flag.String("path", "/sub?topic=idle&format=sse", "request target")
	accept := flag.String("accept", "text/event-stream", "Accept header")
	pid := flag.Int("pid", 0, "server pid whose RSS is read (0 = none)")
	api := flag.String("api", "", "pushwire api address: /stats goroutines are read")
	conc := flag.Int("concurrency", 100, "connects in flight")
	settle := flag.Duration("settle", 3*time.Second, "wait after the last connect before reading RSS")
	hold := flag.Duration("hold", 0, "keep the subscribers this long after measuring")
	broadcast := flag.Int("broadcast", 0, "after measuring, publish this many messages to -pub, one at a time, each waited for at every subscriber")
	pub := flag.String("pub", "http://127.0.0.1:18081/pub/topic/idle", "publish URL for -broadcast (Nchan: http://HOST/pub/idle)")
	storm := flag.Bool("storm", false, "after measuring, close every subscriber and reconnect them all at once (TLS: resuming their sessions)")
	baseline := flag.String("baseline", "", "run the goroutine-per-connection crypto/tls baseline server on this address")
	cert := flag.String("cert", "", "baseline: PEM certificate")
	key := flag.String("key", "", "baseline: PEM key")
	flag.Parse()
	if *baseline != "" {
		if err := serveBaseline(*baseline, *cert, *key); err != nil {
			fmt.Fprintln(os.Stderr, "tlshold:", err)
			os.Exit(1)
		}
		return
	}
	var cfg *tls.Config
	if *useTLS {
		cfg = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
			ClientSessionCache: tls.NewLRUClientSessionCache(*n), ServerName: "localhost"}
		switch *vers {
		case "1.2":
			cfg.MaxVersion = tls.VersionTLS12
		case "1.3":
			cfg.MinVersion = tls.VersionTLS13
		}
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: bench\r\nAccept: %s\r\n\r\n", *path, *accept)
	before := rss(*pid)
	cpu0 := cpu(*pid)
	conns, connect, failed, firstErr := connectAll(*addr, cfg, req, *n, *conc)
	cpu1 := cpu(*pid)
	time.Sleep(*settle)
	after := rss(*pid)
	kind := "plaintext"
	if cfg != nil {
		kind = "TLS"
	}
	report := func(what string, ok int, d time.Duration, c time.Duration) {
		fmt.Printf("%s: %d subscribers (failed %d) over %s in %v (%.0f/s), server CPU %.0f µs per connect\n",
			what, ok, failed, kind, d.Round(time.Millisecond), float64(ok)/d.Seconds(), float64(c.Microseconds())/float64(max(ok, 1)))
		if firstErr != nil {
			fmt.Printf("first error: %v\n", firstErr)
		}
	}
	report("connect", len(conns), connect, cpu1-cpu0)
	if *pid > 0 && len(conns) > 0 {
		fmt.Printf("server RSS %d -> %d KiB: %.0f B per subscriber\n", before>>10, after>>10, float64(after-before)/float64(len(conns)))
	}
	if *api != "" {
		fmt.Printf("server goroutines %s\n", goroutines(*api))
	}
	if *broadcast > 0 && *pid > 0 {
		runBroadcast(*pub, *pid, *broadcast, len(conns))
	}
	if *storm {
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(*settle)
		cpu0 = cpu(*pid)
		conns, connect, failed, firstErr = connectAll(*addr, cfg, req, *n, *conc)
		report("reconnect storm", len(conns), connect, cpu(*pid)-cpu0)
		if cfg != nil {
			resumed := 0
			for _, c := range conns {
				if tc, ok := c.(*tls.Conn); ok && tc.ConnectionState().DidResume {
					resumed++
				}
			}
			fmt.Printf("resumed %d of %d\n", resumed, len(conns))
		}
	}
	time.Sleep(*hold)
}

// connectAll opens n streams, conc at a time, and returns those that came up, how long it
// took, how many failed and the first failure. Each stream is held (read and discarded).
func connectAll(addr string, cfg *tls.Config, req string, n, conc int) ([]net.Conn, time.Duration, int, error) {
	start := time.Now()
	var mu sync.Mutex
	var conns []net.Conn
	var failed int
	var firstErr error
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := subscribe(addr, cfg, req)
			<-sem
			mu.Lock()
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			} else {
				conns = append(conns, c)
			}
			mu.Unlock()
			if err == nil {
				go countMarks(c) // hold: heartbeats, and broadcast marks counted
			}
		}()
	}
	wg.Wait()
	return conns, time.Since(start), failed, firstErr
}

// mark starts every broadcast message; delivered counts marks seen by all subscribers.
const mark = "bcast-mark-"

var delivered atomic.Int64

// countMarks reads a stream to its end, counting the marks in it (a mark may straddle two
// reads).
func countMarks(c net.Conn) {
	buf := make([]byte, 4096)
	var tail []byte
	for {
		n, err := c.Read(buf)
		if n > 0 {
			b := append(tail, buf[:n]...)
			delivered.Add(int64(bytes.Count(b, []byte(mark))))
			k := max(len(b)-(len(mark)-1), 0)
			if i := bytes.LastIndex(b, []byte(mark)); i >= 0 && i+len(mark) > k {
				k = i + len(mark)
			}
			tail = append(tail[:0], b[k:]...)
		}
		if err != nil {
			return
		}
	}
}

// runBroadcast publishes k messages one at a time, each once every subscriber has the one
// before, and reports the time to all and the server's CPU per delivery.
func runBroadcast(url string, pid, k, subscribers int) {
	delivered.Store(0)
	cpu0 := cpu(pid)
	var total time.Duration
	var worst time.Duration
	for i := range k {
		start := time.Now()
		resp, err := http.Post(url, "text/plain", strings.NewReader(fmt.Sprintf("%s%08d", mark, i)))
		if err != nil {
			fmt.Println("broadcast: publish:", err)
			return
		}
		resp.Body.Close()
		want := int64(i+1) * int64(subscribers)
		for delivered.Load() < want {
			if time.Since(start) > 30*time.Second {
				fmt.Printf("broadcast %d: %d of %d deliveries after 30 s\n", i, delivered.Load()-want+int64(subscribers), subscribers)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	c := cpu(pid) - cpu0
	fmt.Printf("broadcast: %d messages to %d subscribers: time to all %.1f ms average, %.1f ms worst; server CPU %.2f µs per delivery\n",
		k, subscribers, float64(total.Microseconds())/1000/float64(k), float64(worst.Microseconds())/1000,
		float64(c.Nanoseconds())/1000/float64(k*subscribers))
}

// cpu returns the user + system CPU time of pid (0 when pid is 0).
func cpu(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// fields after the command's closing parenthesis: utime and stime are the 12th and 13th
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// subscribe opens one stream and returns once its response head and first bytes are in.
func subscribe(addr string, cfg *tls.Config, req string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		tc := tls.Client(c, cfg)
		tc.SetDeadline(time.Now().Add(60 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		k, err := c.Read(buf)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("reading the response head: %w", err)
		}
		head = append(head, buf[:k]...)
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
		c.Close()
		return nil, fmt.Errorf("answer %q", head[:min(len(head), 40)])
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// rss returns VmRSS of pid in bytes (0 when pid is 0).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func goroutines(api string) string {
	resp, err := http.Get("http://" + api + "/stats")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return err.Error()
	}
	return fmt.Sprint(m["goroutines"])
}

// serveBaseline is one goroutine per connection on crypto/tls: read the request head,
// answer an SSE head, then block reading, as an idle stream does.
func serveBaseline(addr, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: open\n\n")
			io.Copy(io.Discard, r)
		}()
	}
}
