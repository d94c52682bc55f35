package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 connections across an upgrade (SPEC §11): their codec state (windows, stream ids,
// SETTINGS, queued DATA) and every stream's subscriber move with the socket, so the client
// keeps its one TCP connection and every stream on it.

// h2Client is golang.org/x/net/http2's client over one counted connection to the edge: h2c
// with prior knowledge, or over TLS (ALPN h2) when tlsOn.
func h2Client(cnt *counter, tlsOn bool) *http.Client {
	return &http.Client{Transport: &http2.Transport{AllowHTTP: !tlsOn,
		DialTLSContext: func(ctx context.Context, _, addr string, _ *tls.Config) (net.Conn, error) {
			c, err := cnt.dial(addr)
			if err != nil || !tlsOn {
				return c, err
			}
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
				c.Close()
				return nil, fmt.Errorf("ALPN %q; want h2", p)
			}
			return tc, nil
		}}}
}

// runH2 opens the subscriber's stream on client (one stream of its shared connection) and
// reads it until it ends.
func (s *upSub) runH2(client *http.Client, base string, ready chan<- error) {
	s.shared = true
	resp, err := client.Get(fmt.Sprintf("%s/sub?user=%s&topic=%s&format=%s", base, s.user, s.topic, s.format))
	if err == nil && (resp.StatusCode != 200 || resp.ProtoMajor != 2) {
		err = fmt.Errorf("status %d over HTTP/%d", resp.StatusCode, resp.ProtoMajor)
	}
	ready <- err
	if err != nil {
		return
	}
	defer resp.Body.Close()
	s.read(resp, s.format)
}

// h2Formats are the stream formats an HTTP/2 stream subscribes in (HTTP/1.0's close-delimited
// ndjson has no HTTP/2 form).
var h2Formats = []string{"ndjson", "sse", "multipart"}

// subscribeH2 opens perFormat streams of every format on client's one connection to base.
func (r *upgradeRun) subscribeH2(t *testing.T, client *http.Client, base string, perFormat int) {
	t.Helper()
	ready := make(chan error)
	for _, f := range h2Formats {
		for range perFormat {
			k := len(r.subs)
			s := &upSub{format: f, user: fmt.Sprintf("u%d", k), topic: fmt.Sprintf("t%d", k%r.topics)}
			r.subs = append(r.subs, s)
			go s.runH2(client, base, ready)
			if err := <-ready; err != nil {
				t.Fatalf("HTTP/2 subscriber %d (%s) on %s: %v", k, f, base, err)
			}
		}
	}
}

// TestUpgradeMovesH2: h2c and TLS (ALPN h2) connections of Go's HTTP/2 client, each carrying
// streams in every format, beside HTTP/1.1 ones and curl streams (--http2-prior-knowledge and
// --http2 over TLS),
// keep their one TCP connection across SIGUSR2 to a differently versioned binary: every
// message answered 200 arrives on every stream, in order, with one registered frame, no
// reconnect frame and no GOAWAY (upgrade_reconnects 0), heartbeats go on and the streams'
// conn keys still name them (GET /conn/<key>). A long-poll waiting on the h2c connection is
// answered 204 and the next one, on the same connection, gets its message. After the
// upgrade a new stream on each of the same connections registers and gets its push: the new
// process took over the stream ids, the windows and an HPACK state in step with the client's.
func TestUpgradeMovesH2(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u, tlsEdge := startTLSUpgradable(t, installed, nil)
	r := newUpgradeRun(upTopics)
	r.subscribe(t, u.edge, 0, 1)
	var h2cDials, tlsDials counter
	h2c, h2tls := h2Client(&h2cDials, false), h2Client(&tlsDials, true)
	r.subscribeH2(t, h2c, "http://"+u.edge, 2)
	r.subscribeH2(t, h2tls, "https://"+tlsEdge, 2)
	curls := []*lineProc{
		startLineProc(t, "curl", "-sS", "-N", "--http2-prior-knowledge", "http://"+u.edge+"/sub?topic=curlh2"),
		startLineProc(t, "curl", "-sS", "-N", "-k", "--http2", "https://"+tlsEdge+"/sub?topic=curlh2"),
	}
	for _, c := range curls {
		c.until(t, `"state":"registered"`)
	}
	// A long-poll waiting on the h2c connection at the upgrade.
	poll := func() <-chan string {
		ch := make(chan string, 1)
		go func() {
			resp, err := h2c.Get("http://" + u.edge + "/sub?format=poll&topic=polled")
			if err != nil {
				ch <- err.Error()
				return
			}
			var body strings.Builder
			bufio.NewReader(resp.Body).WriteTo(&body)
			resp.Body.Close()
			ch <- resp.Status + " " + body.String()
		}()
		return ch
	}
	polled := poll()
	waitFor(t, ioTimeout, "the long-poll waiting", func() bool {
		resp, err := http.Get("http://" + u.api + "/presence/topic/polled")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var p struct{ Subscribers int }
		json.NewDecoder(resp.Body).Decode(&p)
		return p.Subscribers == 1
	})
	r.publish(t, u.api, 5*time.Millisecond)
	r.published(t, 100)
	if st := u.stats(t); st["h2_connections"] != 4.0 {
		t.Fatalf("h2_connections before the upgrade = %v; want 4", st["h2_connections"])
	}

	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	r.published(t, 100)
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrades": 1.0, "upgrades_failed": 0.0,
		"upgrade_reconnects": 0.0, "h2_connections": 4.0})
	// The conn keys the old process gave the HTTP/2 streams name them in the new one.
	for _, s := range r.subs {
		if !s.shared || s.format != "ndjson" {
			continue
		}
		resp, err := http.Get("http://" + u.api + "/conn/" + s.keyText())
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ User string }
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if resp.StatusCode != 200 || d.User != s.user {
			t.Errorf("GET /conn/<key of %s's HTTP/2 stream> after the upgrade = %d, user %q; want 200, %q", s.user, resp.StatusCode, d.User, s.user)
		}
	}

	// The long-poll was answered 204 at the quiesce; the client asks again, of the new process,
	// on the same connection.
	if a := <-polled; !strings.HasPrefix(a, "204") {
		t.Errorf("the long-poll waiting at the upgrade: %q; want 204", a)
	}
	polled = poll()
	waitFor(t, ioTimeout, "the next long-poll waiting", func() bool {
		resp, err := http.Post("http://"+u.api+"/pub/topic/polled", "application/json", strings.NewReader(`"polled"`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var a struct{ Delivered int }
		json.NewDecoder(resp.Body).Decode(&a)
		return a.Delivered == 1
	})
	if a := <-polled; !strings.HasPrefix(a, "200") || !strings.Contains(a, `"data":"polled"`) {
		t.Errorf("the long-poll after the upgrade: %q; want 200 with the message", a)
	}

	// A new stream on each moved connection.
	for name, c := range map[string]struct {
		client *http.Client
		base   string
	}{"h2c": {h2c, "http://" + u.edge}, "TLS h2": {h2tls, "https://" + tlsEdge}} {
		s := &upSub{format: "sse", user: "new-" + strings.ReplaceAll(name, " ", "-"), topic: "none"}
		ready := make(chan error, 1)
		go s.runH2(c.client, c.base, ready)
		if err := <-ready; err != nil {
			t.Fatalf("%s: a new stream after the upgrade: %v", name, err)
		}
		waitFor(t, ioTimeout, name+": the new stream's registered event", func() bool { _, reg, _, _, _ := s.snapshot(); return reg == 1 })
		resp, err := http.Post("http://"+u.api+"/pub/user/"+s.user, "application/json", strings.NewReader(`"after"`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: publish to the new stream: %v %v", name, resp, err)
		}
		resp.Body.Close()
		waitFor(t, ioTimeout, name+": the push on the new stream", func() bool { ids, _, _, _, _ := s.snapshot(); return len(ids) == 1 })
	}
	resp, err := http.Post("http://"+u.api+"/pub/topic/curlh2", "application/json", strings.NewReader(`"to curl after the upgrade"`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("publish to curl's topic: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, c := range curls {
		for _, l := range c.until(t, `"data":"to curl after the upgrade"`) {
			if strings.Contains(l, `"cmd"`) || strings.Contains(l, "curl:") {
				t.Errorf("%v printed %q across the upgrade", c.cmd.Args, l)
			}
		}
	}
	r.finish(t)
	if h2cDials.dials.Load() != 1 || tlsDials.dials.Load() != 1 {
		t.Errorf("the HTTP/2 clients dialled %d (h2c) and %d (TLS) connections; want 1 each (no reconnect)",
			h2cDials.dials.Load(), tlsDials.dials.Load())
	}
}

// TestUpgradeMovesH2QueuedData: a stream whose flow-control window the client keeps shut has
// DATA queued in the codec when SIGUSR2 comes, a message cut at the window's edge; the queue
// moves with the codec. When the client opens the window on the new process every message
// answered 200 arrives whole, in order, on the same connection, followed by one published
// after the upgrade; no GOAWAY.
func TestUpgradeMovesH2QueuedData(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "30s")
	c, err := net.DialTimeout("tcp", u.edge, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const window = 16384
	w := bufio.NewWriter(c)
	w.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(w, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
	fr.WriteWindowUpdate(0, 1<<30)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/sub?topic=shut&format=ndjson"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var body []byte
	goaway := false
	acked := make(chan struct{})
	go readH2Frames(fr, w, func(f http2.Frame) {
		mu.Lock()
		defer mu.Unlock()
		switch f := f.(type) {
		case *http2.DataFrame:
			body = append(body, f.Data()...)
		case *http2.GoAwayFrame:
			goaway = true
		case *http2.SettingsFrame:
			close(acked) // our SETTINGS acknowledged: the handshake is done
		}
	})
	received := func() []byte { mu.Lock(); defer mu.Unlock(); return bytes.Clone(body) }
	<-acked
	waitFor(t, ioTimeout, "the registered frame", func() bool { return bytes.Contains(received(), []byte(`"registered"`)) })

	var ids []string
	for i := range 8 {
		resp, err := http.Post("http://"+u.api+"/pub/topic/shut", "application/json",
			strings.NewReader(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 4000))))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("publish %d: %v %v", i, resp, err)
		}
		var a struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		ids = append(ids, a.ID)
	}
	waitFor(t, ioTimeout, "the stream window filled", func() bool { return len(received()) == window })
	time.Sleep(100 * time.Millisecond)
	if n := len(received()); n != window {
		t.Fatalf("the client got %d bytes of DATA; want exactly its window, %d (the rest queued on the server)", n, window)
	}

	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrade_reconnects": 0.0, "h2_connections": 1.0})
	resp, err := http.Post("http://"+u.api+"/pub/topic/shut", "application/json", strings.NewReader(`{"after":true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("publish after the upgrade: %v %v", resp, err)
	}
	var a struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	ids = append(ids, a.ID)
	fr.WriteWindowUpdate(1, 1<<20) // the reader's one write, its SETTINGS ack, is long done (acked)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	waitFor(t, ioTimeout, "every message once the window opened", func() bool {
		got = got[:0]
		for _, l := range strings.Split(string(received()), "\n") {
			var p struct {
				Protocol int
				ID       string
			}
			if json.Unmarshal([]byte(l), &p) == nil && p.Protocol == 2 {
				got = append(got, p.ID)
			}
		}
		return len(got) >= len(ids)
	})
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("messages %v; want %v in publish order", got, ids)
	}
	mu.Lock()
	defer mu.Unlock()
	if goaway {
		t.Error("GOAWAY on a connection that moved")
	}
}

// upgradeH2Conns is TestUpgradeAtScaleH2's h2c connections (10 streams each).
var upgradeH2Conns = flag.Int("upgrade.h2conns", 100, "TestUpgradeAtScaleH2: HTTP/2 connections of 10 streams each (half h2c, half TLS)")

// upgradeH2Period is TestUpgradeAtScaleH2's time between publishes (each reaches every stream).
var upgradeH2Period = flag.Duration("upgrade.h2period", 2*time.Millisecond, "TestUpgradeAtScaleH2: time between publishes")

// h2Tally reads one raw h2c connection's streams: the message ids each got, in order, and
// anything that would mean the connection did not move.
type h2Tally struct {
	mu         sync.Mutex
	ids        map[uint32][]string
	registered map[uint32]int
	trouble    []string // reconnect events, GOAWAY, RST_STREAM, the connection's end
}

func (h *h2Tally) snapshot() (streams, registered int, ids map[uint32][]string, trouble []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids = map[uint32][]string{}
	for id, v := range h.ids {
		ids[id] = slices.Clone(v)
	}
	return len(h.ids), len(h.registered), ids, slices.Clone(h.trouble)
}

// dialH2Tally opens an HTTP/2 connection to edge (h2c, or TLS when tlsOn) with n SSE streams
// of path and tallies them.
func dialH2Tally(t *testing.T, edge string, tlsOn bool, path string, n int) *h2Tally {
	t.Helper()
	_, fr, w := dialH2(t, edge, tlsOn, path, n)
	h := &h2Tally{ids: map[uint32][]string{}, registered: map[uint32]int{}}
	for i := range n {
		h.ids[uint32(2*i+1)] = nil
	}
	go func() {
		readH2Frames(fr, w, func(f http2.Frame) {
			h.mu.Lock()
			defer h.mu.Unlock()
			switch f := f.(type) {
			case *http2.DataFrame:
				for _, l := range strings.Split(string(f.Data()), "\n") {
					switch {
					case strings.HasPrefix(l, "id: "):
						h.ids[f.StreamID] = append(h.ids[f.StreamID], strings.TrimPrefix(l, "id: "))
					case l == "event: registered":
						h.registered[f.StreamID]++
					case strings.HasPrefix(l, "event: ") && l != "event: message":
						h.trouble = append(h.trouble, fmt.Sprintf("stream %d: %s", f.StreamID, l))
					}
				}
			case *http2.GoAwayFrame:
				h.trouble = append(h.trouble, "GOAWAY")
			case *http2.RSTStreamFrame:
				h.trouble = append(h.trouble, fmt.Sprintf("RST_STREAM %d", f.StreamID))
			}
		})
		h.mu.Lock()
		h.trouble = append(h.trouble, "the connection ended")
		h.mu.Unlock()
	}()
	return h
}

// TestUpgradeAtScaleH2: -upgrade.h2conns HTTP/2 connections (default 100; 20 with -short),
// half h2c and half over TLS (ALPN h2), of 10 SSE streams each, all of one user and one topic, a publisher every 2 ms (-upgrade.h2period)
// alternately to the user and the topic, SIGUSR2 with a differently versioned binary
// mid-stream: every stream gets every message answered 200, in order, with one registered
// event, no reconnect event, no GOAWAY or RST_STREAM, on its one connection. It logs the
// figures BENCHMARKS.md quotes.
func TestUpgradeAtScaleH2(t *testing.T) {
	conns := *upgradeH2Conns
	if testing.Short() {
		conns = 20
	}
	dir, installed := buildInstalled(t, "v2")
	u, tlsEdge := startTLSUpgradable(t, installed, nil)
	tallies := make([]*h2Tally, conns)
	for i := range tallies {
		edge := u.edge
		if i%2 == 1 {
			edge = tlsEdge
		}
		tallies[i] = dialH2Tally(t, edge, i%2 == 1, "/sub?user=u0&topic=t0&format=sse", 10)
	}
	waitFor(t, 60*time.Second, "every stream's registered event", func() bool {
		for _, h := range tallies {
			if _, reg, _, _ := h.snapshot(); reg != 10 {
				return false
			}
		}
		return true
	})
	pub, stop, done := newUpPublisher(), make(chan struct{}), make(chan struct{})
	go func() { pub.run(u.api, 1, 1, *upgradeH2Period, stop); close(done) }()
	answered := func() int { pub.mu.Lock(); defer pub.mu.Unlock(); return len(pub.sent) }
	n := max(50, int(time.Second / *upgradeH2Period)) // about a second's worth before and after
	waitFor(t, 60*time.Second, fmt.Sprintf("%d publishes", n), func() bool { return answered() >= n })
	oldRSS := rssKB(t, u.cmd.Process.Pid)
	u.install(filepath.Join(dir, "pushwire-v2"))
	sent := time.Now()
	u.usr2()
	u.awaitExit0(90 * time.Second)
	exited := time.Since(sent)
	handed := u.waitLog(`upgrade: handed over.* paused=(\S+).*`)
	base := answered()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d more publishes", n), func() bool { return answered() >= base+n })
	close(stop)
	<-done
	var pid int
	fmt.Sscan(u.waitLog(`started the new binary.* pid=(\d+)`)[1], &pid)
	newRSS := rssKB(t, pid)

	pub.mu.Lock()
	var want []string // every stream is user u0's and in topic t0: every message
	for _, m := range pub.sent {
		want = append(want, m.id)
	}
	bad, longest := pub.bad, pub.longest
	pub.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("publishes not answered 200: %q", bad)
	}
	waitFor(t, 60*time.Second, "every message on every stream", func() bool {
		for _, h := range tallies {
			_, _, ids, trouble := h.snapshot()
			if len(trouble) > 0 {
				return true // reported below
			}
			for _, got := range ids {
				if len(got) < len(want) {
					return false
				}
			}
		}
		return true
	})
	for i, h := range tallies {
		streams, reg, ids, trouble := h.snapshot()
		if streams != 10 || reg != 10 || len(trouble) > 0 {
			t.Errorf("connection %d: %d streams, %d registered events, %q; want 10, 10, nothing else", i, streams, reg, trouble[:min(len(trouble), 5)])
			continue
		}
		for id, got := range ids {
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("connection %d stream %d: %d messages, want %d in publish order (first difference at %d)",
					i, id, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrade_reconnects": 0.0, "h2_connections": float64(conns)})
	t.Log(handed[0])
	t.Logf("%d HTTP/2 connections (half over TLS) × 10 streams: paused %s, SIGUSR2 to the old process's exit %v; longest wait between publish answers %v; %d messages to every stream; RSS %d KiB before (%d B a stream), %d KiB in the new process after (%d B a stream); race detector %v",
		conns, handed[1], exited.Round(time.Millisecond), longest.Round(time.Millisecond), len(want), oldRSS, oldRSS*1024/(10*conns), newRSS, newRSS*1024/(10*conns), *upgradeRace)
}
