// Command soak holds one pushwire node under a steady load for a long time
// and checks that nothing grows (issue 17 item 7): 15,000 subscribers (a
// user each, all on one topic), a fraction of them reconnecting all the
// time (churn: the server closes and opens connections, registers and
// forgets them), a steady rate of unicast publishes over keep-alive
// connections and a broadcast to the topic now and then. Every -sample it
// reads the server's RSS and open descriptors (/proc) and its goroutines
// (/stats). At the end it stops the churn and the publishes, waits for
// every subscriber to be connected again, and judges each figure flat or
// growing: the median of the samples' last quarter must stay within
// -tolerance of the second quarter's (the first quarter is the warm-up),
// and the open descriptors must come back to the subscriber count (plus
// the listeners and a few). It exits 1 when something grows.
//
//	go run ./perf/soak                      # 30 minutes, 15,000 subscribers
//	go run ./perf/soak -duration 5m -server-cpus 0
//
// The soak process holds the subscribers itself (one goroutine each: it is
// the load, not the thing measured) and needs an open-files limit above
// -conns; the server raises its own.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/perf"
)

type options struct {
	duration, sample, broadcastEvery, settle time.Duration
	conns, publishers                        int
	churn, rate, tolerance                   float64
	fdSlack                                  int
	bin, serverCPUs, out                     string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Minute, "how long the load runs")
	flag.DurationVar(&o.sample, "sample", 10*time.Second, "how often the server's RSS, descriptors and goroutines are read")
	flag.IntVar(&o.conns, "conns", 15000, "subscribers (one user each, all on topic soak)")
	flag.Float64Var(&o.churn, "churn", 0.01, "fraction of the subscribers that reconnect every second")
	flag.Float64Var(&o.rate, "rate", 1000, "unicast publishes per second (to random users)")
	flag.IntVar(&o.publishers, "publishers", 4, "keep-alive publisher connections")
	flag.DurationVar(&o.broadcastEvery, "broadcast-every", 10*time.Second, "a publish to the topic every subscriber holds (0: none)")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "at the end, how long subscribers may take to be connected again")
	flag.Float64Var(&o.tolerance, "tolerance", 0.10, "how much the last quarter's median may exceed the second quarter's")
	flag.IntVar(&o.fdSlack, "fd-slack", 64, "descriptors beyond the subscribers' that the server may hold at the end")
	flag.StringVar(&o.bin, "bin", "", "pushwire binary (default: build ./cmd/pushwire)")
	flag.StringVar(&o.serverCPUs, "server-cpus", "", "pin the server with taskset -c to these CPUs")
	flag.StringVar(&o.out, "out", "", "also write the samples and the verdict as JSON here")
	flag.Parse()
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// Sample is one reading of the server, with the load's counters then.
type Sample struct {
	Seconds     float64 `json:"seconds"`
	RSSBytes    int64   `json:"rss_bytes"`
	FDs         int     `json:"fds"`
	Goroutines  int     `json:"goroutines"`
	ServerConns int     `json:"server_connections"`
	Connected   int64   `json:"client_connected"`
	Reconnects  int64   `json:"reconnects"`
	Received    int64   `json:"received"`
	Published   int64   `json:"published_200"`
	NotFound    int64   `json:"published_404"`
	BadAnswers  int64   `json:"bad_answers"`
}

// load is the client side: the subscribers, the churn and the publishers.
type load struct {
	o           options
	edge, api   string
	subs        []*subscriber
	connected   atomic.Int64
	reconnects  atomic.Int64
	dialErrors  atomic.Int64
	received    atomic.Int64
	published   atomic.Int64
	notFound    atomic.Int64
	badAnswers  atomic.Int64
	lastBad     atomic.Value // string
	broadcasts  atomic.Int64
	stopClients chan struct{}
}

type subscriber struct {
	id int
	mu sync.Mutex
	c  net.Conn
}

func run(o options) (bool, error) {
	if o.bin == "" {
		bin, err := perf.BuildPushwire(".")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(filepath.Dir(bin))
		o.bin = bin
	}
	ports := make([]string, 2)
	for i := range ports {
		p, err := perf.FreePort()
		if err != nil {
			return false, err
		}
		ports[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	args := []string{o.bin, "--listen", ports[0], "--api-listen", ports[1], "--log-level", "warn"}
	if o.serverCPUs != "" {
		args = append([]string{"taskset", "-c", o.serverCPUs}, args...)
	}
	srv := exec.Command(args[0], args[1:]...)
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		return false, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	pid := srv.Process.Pid
	if err := perf.WaitDial(ports[1], 20*time.Second); err != nil {
		return false, err
	}
	start := time.Now()
	logf := func(f string, a ...any) {
		fmt.Printf("%7.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(f, a...))
	}
	ld := &load{o: o, edge: ports[0], api: ports[1], stopClients: make(chan struct{})}
	logf("pushwire pid %d (edge %s, api %s); %d subscribers, churn %.1f%%/s, %.0f publishes/s, broadcast every %v, for %v",
		pid, ld.edge, ld.api, o.conns, o.churn*100, o.rate, o.broadcastEvery, o.duration)

	var clients sync.WaitGroup
	ld.subs = make([]*subscriber, o.conns)
	for i := range ld.subs {
		ld.subs[i] = &subscriber{id: i}
	}
	// Connect at most 200 at a time, so the first wave is a ramp, not a storm.
	gate := make(chan struct{}, 200)
	for _, s := range ld.subs {
		clients.Add(1)
		go func() { defer clients.Done(); ld.hold(s, gate) }()
	}
	if err := ld.waitConnected(int64(o.conns), 5*time.Minute); err != nil {
		return false, err
	}
	logf("%d subscribers connected", o.conns)

	ctx, stopLoad := context.WithTimeout(context.Background(), o.duration)
	defer stopLoad()
	var loadWG sync.WaitGroup
	loadWG.Add(2 + o.publishers)
	go func() { defer loadWG.Done(); ld.churnLoop(ctx) }()
	go func() { defer loadWG.Done(); ld.broadcastLoop(ctx) }()
	for range o.publishers {
		go func() { defer loadWG.Done(); ld.publishLoop(ctx) }()
	}

	var samples []Sample
	tick := time.NewTicker(o.sample)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			s, err := ld.sampleServer(pid, start)
			if err != nil {
				return false, err
			}
			samples = append(samples, s)
			logf("rss %6.1f MiB  fds %6d  goroutines %3d  server conns %6d | connected %6d  reconnects %7d  received %9d  published %8d (404 %d, bad %d)",
				float64(s.RSSBytes)/(1<<20), s.FDs, s.Goroutines, s.ServerConns, s.Connected, s.Reconnects, s.Received, s.Published, s.NotFound, s.BadAnswers)
		}
	}
	tick.Stop()
	loadWG.Wait()
	logf("load stopped; waiting up to %v for every subscriber to be connected again", o.settle)
	settleErr := ld.waitConnected(int64(o.conns), o.settle)
	time.Sleep(2 * time.Second) // the server closes what the churn left half-closed
	final, err := ld.sampleServer(pid, start)
	if err != nil {
		return false, err
	}
	close(ld.stopClients)
	for _, s := range ld.subs {
		s.close()
	}
	clients.Wait()

	ok := true
	var verdicts []Flat
	series := func(get func(Sample) float64) []float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = get(s)
		}
		return v
	}
	verdicts = append(verdicts,
		checkFlat("rss_bytes", series(func(s Sample) float64 { return float64(s.RSSBytes) }), o.tolerance, 0),
		checkFlat("goroutines", series(func(s Sample) float64 { return float64(s.Goroutines) }), o.tolerance, 2),
		checkFlat("fds", series(func(s Sample) float64 { return float64(s.FDs) }), o.tolerance, 0))
	fmt.Println()
	for _, v := range verdicts {
		fmt.Println(v)
		ok = ok && v.OK
	}
	fdLimit := o.conns + o.fdSlack
	fdsBack := final.FDs >= o.conns && final.FDs <= fdLimit
	fmt.Printf("fds at the end: %d with %d subscribers connected (server: %d connections); want %d..%d: %s\n",
		final.FDs, final.Connected, final.ServerConns, o.conns, fdLimit, verdict(fdsBack))
	ok = ok && fdsBack
	if settleErr != nil {
		fmt.Println("subscribers not all connected again:", settleErr)
		ok = false
	}
	fmt.Printf("load: %d reconnects (%d dial errors), %d publishes answered 200, %d answered 404 (user between connections), %d broadcasts, %d messages received\n",
		final.Reconnects, ld.dialErrors.Load(), final.Published, final.NotFound, ld.broadcasts.Load(), final.Received)
	if final.BadAnswers > 0 {
		fmt.Printf("%d publishes answered neither 200 nor 404, e.g. %v\n", final.BadAnswers, ld.lastBad.Load())
		ok = false
	}
	fmt.Println("verdict:", verdict(ok))
	if o.out != "" {
		b, _ := json.MarshalIndent(map[string]any{"options": fmt.Sprintf("%+v", o), "samples": samples, "final": final,
			"flat": verdicts, "fds_back": fdsBack, "ok": ok}, "", "  ")
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return ok, err
		}
	}
	return ok, nil
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

// hold keeps subscriber s connected until the clients stop: it reconnects
// whenever its stream ends (closed by the churn, or by the server), after a
// short random wait, as a browser's EventSource does after its retry.
func (ld *load) hold(s *subscriber, gate chan struct{}) {
	first := true
	for {
		select {
		case <-ld.stopClients:
			return
		default:
		}
		if first {
			gate <- struct{}{}
		}
		c, body, err := ld.subscribe(s.id)
		if first {
			<-gate
		}
		if err != nil {
			ld.dialErrors.Add(1)
			time.Sleep(100*time.Millisecond + rand.N(200*time.Millisecond))
			continue
		}
		if !first {
			ld.reconnects.Add(1)
		}
		first = false
		s.mu.Lock()
		s.c = c
		s.mu.Unlock()
		ld.connected.Add(1)
		ld.read(body)
		ld.connected.Add(-1)
		c.Close()
		time.Sleep(rand.N(50 * time.Millisecond))
	}
}

// subscribe opens GET /sub for user s<id> on topic soak and reads up to the
// stream's head.
func (ld *load) subscribe(id int) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", ld.edge, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /sub?user=s%d&topic=soak HTTP/1.1\r\nHost: soak\r\n\r\n", id); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, nil, fmt.Errorf("subscribe: status %d", resp.StatusCode)
	}
	c.SetDeadline(time.Time{})
	return c, bufio.NewReaderSize(resp.Body, 1024), nil
}

var messagePacket = []byte(`"protocol":2`)

// read counts the stream's messages until it ends.
func (ld *load) read(body *bufio.Reader) {
	for {
		line, err := body.ReadSlice('\n')
		if bytes.Contains(line, messagePacket) {
			ld.received.Add(1)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (s *subscriber) close() {
	s.mu.Lock()
	if s.c != nil {
		s.c.Close()
	}
	s.mu.Unlock()
}

// churnLoop closes churn × conns random streams a second, in ten steps.
func (ld *load) churnLoop(ctx context.Context) {
	per := ld.o.churn * float64(ld.o.conns) / 10
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var owed float64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		owed += per
		for ; owed >= 1; owed-- {
			ld.subs[rand.IntN(len(ld.subs))].close()
		}
	}
}

// publishLoop publishes to random users at rate/publishers a second on one
// keep-alive connection.
func (ld *load) publishLoop(ctx context.Context) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	every := time.Duration(float64(time.Second) * float64(ld.o.publishers) / ld.o.rate)
	next := time.Now()
	for i := 0; ; i++ {
		next = next.Add(every)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		user := rand.IntN(ld.o.conns)
		ld.publish(client, "/pub/user/s"+strconv.Itoa(user), `{"n":`+strconv.Itoa(i)+`}`)
	}
}

func (ld *load) broadcastLoop(ctx context.Context) {
	if ld.o.broadcastEvery <= 0 {
		return
	}
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(ld.o.broadcastEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ld.publish(client, "/pub/topic/soak", `"broadcast"`)
		ld.broadcasts.Add(1)
	}
}

func (ld *load) publish(client *http.Client, path, body string) {
	resp, err := client.Post("http://"+ld.api+path, "application/json", strings.NewReader(body))
	if err != nil {
		ld.badAnswers.Add(1)
		ld.lastBad.Store(err.Error())
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case 200:
		ld.published.Add(1)
	case 404:
		ld.notFound.Add(1)
	default:
		ld.badAnswers.Add(1)
		ld.lastBad.Store(fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
}

// sampleServer reads the server's RSS, descriptors and goroutines.
func (ld *load) sampleServer(pid int, start time.Time) (Sample, error) {
	s := Sample{Seconds: time.Since(start).Seconds(), Connected: ld.connected.Load(), Reconnects: ld.reconnects.Load(),
		Received: ld.received.Load(), Published: ld.published.Load(), NotFound: ld.notFound.Load(), BadAnswers: ld.badAnswers.Load()}
	var err error
	if s.RSSBytes, err = perf.ProcRSS(pid); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	resp, err := http.Get("http://" + ld.api + "/stats")
	if err != nil {
		return s, fmt.Errorf("GET /stats: %w", err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return s, fmt.Errorf("GET /stats: %w", err)
	}
	g, _ := st["goroutines"].(float64)
	c, _ := st["edge_connections"].(float64)
	s.Goroutines, s.ServerConns = int(g), int(c)
	return s, nil
}

// waitConnected waits until n subscribers hold a stream.
func (ld *load) waitConnected(n int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for ld.connected.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d subscribers connected after %v", ld.connected.Load(), n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
