package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/acceptance/internal/promscrape"
	"github.com/pushwire/pushwire/cluster/redistest"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Zero-downtime upgrade (SPEC §11): real processes, a binary replaced on disk between them,
// subscribers in every stream format counting their TCP connections, a publisher at a steady
// rate on one keep-alive connection.

// upgradeRace builds the upgrade tests' binaries with the race detector (the default); the
// figures in BENCHMARKS.md come from a run without it:
// go test ./acceptance/ -run TestUpgradeAtScale -v -args -upgrade.race=false
var upgradeRace = flag.Bool("upgrade.race", true, "build the upgrade tests' pushwire binaries with -race")

// upgradeScale is TestUpgradeAtScale's subscribers per format (BENCHMARKS.md: 3750, 15,000 in all).
var upgradeScale = flag.Int("upgrade.scale", 1250, "TestUpgradeAtScale: subscribers of each format")

// upgradePerf, when set, makes TestUpgradeAtScale record the whole machine with perf (call
// graphs) from just before SIGUSR2 for three seconds into this file; the log names both
// processes' ids for `perf report -i FILE --pid PID`.
var upgradePerf = flag.String("upgrade.perf", "", "TestUpgradeAtScale: perf record -a -g around SIGUSR2 into this file")

// buildVersioned builds ./cmd/pushwire (with the race detector, as TestMain's) with
// server.version set, into path.
func buildVersioned(t *testing.T, path, version string) {
	t.Helper()
	args := []string{"build", "-race"}
	if !*upgradeRace {
		args = args[:1]
	}
	args = append(args, "-ldflags", "-X github.com/pushwire/pushwire/server.version="+version, "-o", path, "./cmd/pushwire")
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", version, err, out)
	}
}

// buildInstalled builds v1 at dir/pushwire (the installed path the node runs from) and
// each other version at dir/pushwire-<version>; it returns dir and the installed path.
func buildInstalled(t *testing.T, others ...string) (dir, installed string) {
	t.Helper()
	dir = t.TempDir()
	installed = filepath.Join(dir, "pushwire")
	buildVersioned(t, installed, "v1")
	for _, v := range others {
		buildVersioned(t, filepath.Join(dir, "pushwire-"+v), v)
	}
	return dir, installed
}

// upgradable is a pushwire process started from an installed path whose binary a test
// replaces before SIGUSR2. Its stderr, and its successor's (inherited), go to one file.
type upgradable struct {
	t         *testing.T
	installed string
	cmd       *exec.Cmd
	logPath   string
	edge, api string
	exited    chan struct{}
	waitErr   error
}

func startUpgradable(t *testing.T, installed string, env []string, args ...string) *upgradable {
	t.Helper()
	u := &upgradable{t: t, installed: installed, logPath: filepath.Join(t.TempDir(), "pushwire.log"), exited: make(chan struct{})}
	logf, err := os.Create(u.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	u.cmd = exec.Command(installed, args...)
	u.cmd.Env = append(os.Environ(), env...)
	u.cmd.Stderr, u.cmd.Stdout = logf, logf // files, not pipes: the successor inherits them, and Wait must not wait for it
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.waitErr = u.cmd.Wait(); close(u.exited) }()
	t.Cleanup(func() {
		// The successor is not our child: find it in the log and end it.
		for _, m := range regexp.MustCompile(`started the new binary.* pid=(\d+)`).FindAllStringSubmatch(u.logText(), -1) {
			var pid int
			fmt.Sscan(m[1], &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		u.cmd.Process.Kill()
		<-u.exited
		for _, mark := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.Contains(u.logText(), mark) {
				t.Errorf("pushwire printed %q", mark)
			}
		}
		if t.Failed() {
			t.Logf("pushwire log:\n%s", u.logText())
		}
	})
	m := u.waitLog(`msg="pushwire started".* edge=(\S+) api=(\S+)`)
	u.edge, u.api = m[1], m[2]
	time.Sleep(200 * time.Millisecond) // signal handlers are installed after the started line
	return u
}

func (u *upgradable) logText() string {
	b, _ := os.ReadFile(u.logPath)
	return string(b)
}

// waitLog waits for a log line matching re and returns its submatches.
func (u *upgradable) waitLog(re string) []string {
	u.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := rx.FindStringSubmatch(u.logText()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("no log line matching %q", re)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// install replaces the binary at the installed path, as a package upgrade would.
func (u *upgradable) install(path string) {
	u.t.Helper()
	if err := os.Rename(path, u.installed); err != nil {
		u.t.Fatal(err)
	}
}

// awaitExit0 waits for the process to exit, as the old one does once the new one serves, and
// requires exit code 0.
func (u *upgradable) awaitExit0(within time.Duration) {
	u.t.Helper()
	select {
	case <-u.exited:
	case <-time.After(within):
		u.t.Fatalf("the old process did not exit within %v of the upgrade", within)
	}
	if u.waitErr != nil {
		u.t.Fatalf("the old process exited with %v; want 0", u.waitErr)
	}
}

// upgradeTo installs the binary at path, sends SIGUSR2 and waits for the old process to exit 0.
func (u *upgradable) upgradeTo(path string) {
	u.t.Helper()
	u.install(path)
	u.usr2()
	u.awaitExit0(60 * time.Second)
}

// wantStats checks /stats figures against want.
func (u *upgradable) wantStats(t *testing.T, when string, want map[string]any) {
	t.Helper()
	st := u.stats(t)
	for k, v := range want {
		if st[k] != v {
			t.Errorf("/stats %s %s = %v; want %v", when, k, st[k], v)
		}
	}
}

func (u *upgradable) usr2() {
	u.t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		u.t.Fatal(err)
	}
}

// counter counts the TCP connections a client side opens, and when.
type counter struct {
	dials atomic.Int64
	mu    sync.Mutex
	times []string
}

func (c *counter) dial(addr string) (net.Conn, error) {
	c.dials.Add(1)
	c.mu.Lock()
	c.times = append(c.times, time.Now().UTC().Format("15:04:05.000"))
	c.mu.Unlock()
	return net.DialTimeout("tcp", addr, ioTimeout)
}

func (c *counter) when() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.times...)
}

// upSub is one subscriber: what it read, as it read it.
type upSub struct {
	tlsVers    uint16 // over TLS of this version; 0 = plaintext
	shared     bool   // an HTTP/2 stream: its connection carries others (upgrade_h2_test.go)
	format     string
	user       string
	topic      string
	mu         sync.Mutex
	ids        []string
	registered int
	key        string // from the registered packet (ndjson)
	heartbeats int
	controls   []string
	err        error
	seen       *deliveries // every subscriber's message receipts, for the longest gap
}

func (s *upSub) note(kind, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "registered":
		s.registered++
		s.key = v
	case "message":
		s.ids = append(s.ids, v)
		if s.seen != nil {
			s.seen.add(time.Now())
		}
	case "heartbeat":
		s.heartbeats++
	default:
		s.controls = append(s.controls, v)
	}
}

func (s *upSub) keyText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

func (s *upSub) snapshot() (ids []string, registered, heartbeats int, controls []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...), s.registered, s.heartbeats, append([]string(nil), s.controls...), s.err
}

// run opens the stream and reads it until the connection ends.
func (s *upSub) run(cnt *counter, edge string, ready chan<- error) {
	conn, err := cnt.dial(edge)
	if err != nil {
		ready <- err
		return
	}
	defer conn.Close()
	if s.tlsVers != 0 {
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: s.tlsVers, MaxVersion: s.tlsVers})
		defer tc.Close()
		conn = tc
	}
	proto, format := "HTTP/1.1", s.format
	if format == "ndjson10" {
		proto, format = "HTTP/1.0", "ndjson"
	}
	fmt.Fprintf(conn, "GET /sub?user=%s&topic=%s&format=%s %s\r\nHost: x\r\n\r\n", s.user, s.topic, format, proto)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	ready <- err
	if err != nil {
		return
	}
	s.read(resp, format)
}

// read reads the stream's body in format until it ends, and keeps why it ended.
func (s *upSub) read(resp *http.Response, format string) {
	body := bufio.NewReader(resp.Body)
	var err error
	switch format {
	case "sse":
		err = s.readSSE(body)
	case "multipart":
		_, params, _ := strings.Cut(resp.Header.Get("Content-Type"), "boundary=")
		err = s.readMultipart(body, params)
	default:
		err = s.readNDJSON(body)
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// packetKind classifies a JSON packet of the ndjson and multipart formats.
func (s *upSub) packet(line string) error {
	var p struct {
		Protocol int    `json:"protocol"`
		ID       string `json:"id"`
		Cmd      string `json:"cmd"`
		Conn     string `json:"conn"`
	}
	if err := json.Unmarshal([]byte(line), &p); err != nil {
		return fmt.Errorf("bad packet %q: %v", line, err)
	}
	switch p.Protocol {
	case 0:
		s.note("heartbeat", "")
	case 1:
		s.note("registered", p.Conn)
	case 2:
		s.note("message", p.ID)
	default:
		s.note("control", line)
	}
	return nil
}

func (s *upSub) readNDJSON(r *bufio.Reader) error {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if err := s.packet(strings.TrimSuffix(l, "\n")); err != nil {
			return err
		}
	}
}

func (s *upSub) readSSE(r *bufio.Reader) error {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		l = strings.TrimSuffix(l, "\n")
		switch {
		case strings.HasPrefix(l, ": hb "):
			s.note("heartbeat", "")
		case strings.HasPrefix(l, "id: "):
			s.note("message", strings.TrimPrefix(l, "id: "))
		case l == "event: registered":
			s.note("registered", "")
		case strings.HasPrefix(l, "event: ") && l != "event: message":
			s.note("control", l)
		}
	}
}

func (s *upSub) readMultipart(r *bufio.Reader, boundary string) error {
	inHead, id := false, ""
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		l = strings.TrimRight(l, "\r\n")
		switch {
		case l == "--"+boundary:
			inHead, id = true, ""
		case inHead && strings.HasPrefix(l, "Push-Id: "):
			id = strings.TrimPrefix(l, "Push-Id: ")
		case inHead && l == "":
			inHead = false
		case !inHead && id != "" && id != "0":
			s.note("message", id) // a message part's body is the payload itself
			id = ""
		case !inHead && strings.HasPrefix(l, "{"):
			if err := s.packet(l); err != nil { // registered, heartbeat, control: a packet
				return err
			}
		}
	}
}

// upPublisher publishes at a steady rate on one keep-alive connection and keeps, in order,
// the id and target of every publish answered 200.
type upPublisher struct {
	cnt     counter
	client  *http.Client
	mu      sync.Mutex
	sent    []upSent
	bad     []string
	last    time.Time     // when the last answer came
	longest time.Duration // the longest wait between two answers
}

type upSent struct{ id, to, answer string }

func newUpPublisher() *upPublisher {
	p := &upPublisher{}
	p.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return p.cnt.dial(addr) },
	}}
	return p
}

func (p *upPublisher) run(api string, users, topics int, every time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		to := fmt.Sprintf("user/u%d", i%users)
		if i%2 == 1 {
			to = fmt.Sprintf("topic/t%d", i%topics)
		}
		resp, err := p.client.Post("http://"+api+"/pub/"+to, "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			p.mu.Lock()
			p.bad = append(p.bad, err.Error())
			p.mu.Unlock()
			continue
		}
		var a struct {
			ID string `json:"id"`
		}
		body, _ := io.ReadAll(resp.Body)
		json.Unmarshal(body, &a)
		resp.Body.Close()
		p.mu.Lock()
		if now := time.Now(); !p.last.IsZero() && now.Sub(p.last) > p.longest {
			p.longest = now.Sub(p.last)
		}
		p.last = time.Now()
		if resp.StatusCode == 200 {
			p.sent = append(p.sent, upSent{id: a.ID, to: strings.Replace(to, "/", ":", 1), answer: string(body)})
		} else {
			p.bad = append(p.bad, fmt.Sprintf("%s: %d", to, resp.StatusCode))
		}
		p.mu.Unlock()
	}
}

// upgradeRun is one scenario: subscribers of every format, a publisher, something done to
// the node mid-stream, then every answered message checked on every stream.
type upgradeRun struct {
	allow503 bool // a cluster: pushes through a peer during the handoff may be refused (503)
	subs     []*upSub
	cnt      counter
	pub      *upPublisher
	stop     chan struct{}
	done     chan struct{}
	users    int
	topics   int
	seen     deliveries
}

// deliveries are the times subscribers received messages, all subscribers together.
type deliveries struct {
	mu    sync.Mutex
	times []time.Time
}

func (d *deliveries) add(at time.Time) {
	d.mu.Lock()
	d.times = append(d.times, at)
	d.mu.Unlock()
}

// longestGap is the longest time between two receipts in [from, to] during which no
// subscriber received any message: with a publish every few ms, the upgrade's gap.
func (d *deliveries) longestGap(from, to time.Time) time.Duration {
	d.mu.Lock()
	ts := slices.Clone(d.times)
	d.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var longest time.Duration
	var prev time.Time
	for _, at := range ts {
		if at.Before(from) || at.After(to) {
			continue
		}
		if !prev.IsZero() && at.Sub(prev) > longest {
			longest = at.Sub(prev)
		}
		prev = at
	}
	return longest
}

const upTopics = 3

func startUpgradeRun(t *testing.T, u *upgradable, perFormat int) *upgradeRun {
	return startUpgradeRunVia(t, u, u.api, perFormat, upTopics, 5*time.Millisecond)
}

// startUpgradeRunVia publishes through api, which may be another node's, every period, to
// users and the given number of topics in turn.
func startUpgradeRunVia(t *testing.T, u *upgradable, api string, perFormat, topics int, period time.Duration) *upgradeRun {
	t.Helper()
	r := newUpgradeRun(topics)
	r.subscribe(t, u.edge, 0, perFormat)
	r.publish(t, api, period)
	return r
}

func newUpgradeRun(topics int) *upgradeRun {
	return &upgradeRun{pub: newUpPublisher(), stop: make(chan struct{}), done: make(chan struct{}), topics: topics}
}

// upFormats are the stream formats a run subscribes in.
var upFormats = []string{"ndjson", "sse", "multipart", "ndjson10"}

// subscribe opens perFormat streams of every format on edge, over TLS of version tlsVers
// (0 = plaintext).
func (r *upgradeRun) subscribe(t *testing.T, edge string, tlsVers uint16, perFormat int) {
	t.Helper()
	ready := make(chan error)
	for _, f := range upFormats {
		for range perFormat {
			k := len(r.subs)
			s := &upSub{tlsVers: tlsVers, format: f, user: fmt.Sprintf("u%d", k), topic: fmt.Sprintf("t%d", k%r.topics), seen: &r.seen}
			r.subs = append(r.subs, s)
			go s.run(&r.cnt, edge, ready)
			if err := <-ready; err != nil {
				t.Fatalf("subscriber %d (%s, TLS %x): %v", k, f, tlsVers, err)
			}
		}
	}
}

// subscribeTLSToo opens plain streams of every format on edge and perVersion of every format
// over each TLS version on tlsEdge.
func (r *upgradeRun) subscribeTLSToo(t *testing.T, edge, tlsEdge string, plain, perVersion int) {
	t.Helper()
	r.subscribe(t, edge, 0, plain)
	for _, v := range tlsVersions {
		r.subscribe(t, tlsEdge, v, perVersion)
	}
}

// startTLSUpgradable is startUpgradable with a TLS edge too (a fresh certificate); it returns
// the TLS edge's address.
func startTLSUpgradable(t *testing.T, installed string, env []string) (*upgradable, string) {
	t.Helper()
	certFile, keyFile := writePair(t, t.TempDir(), "first")
	u := startUpgradable(t, installed, env, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "2s",
		"--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	return u, u.waitLog(`msg="pushwire started".* tls=(\S+)`)[1]
}

// publish starts the publisher once every stream has its registered frame.
func (r *upgradeRun) publish(t *testing.T, api string, period time.Duration) {
	t.Helper()
	r.users = len(r.subs)
	waitFor(t, ioTimeout, "registered frames", func() bool {
		for _, s := range r.subs {
			if _, reg, _, _, _ := s.snapshot(); reg == 0 {
				return false
			}
		}
		return true
	})
	go func() { r.pub.run(api, r.users, r.topics, period, r.stop); close(r.done) }()
}

// published waits until n more publishes were answered.
func (r *upgradeRun) published(t *testing.T, n int) {
	t.Helper()
	r.pub.mu.Lock()
	want := len(r.pub.sent) + n
	r.pub.mu.Unlock()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d more publishes", n), func() bool {
		r.pub.mu.Lock()
		defer r.pub.mu.Unlock()
		return len(r.pub.sent) >= want
	})
}

// finish stops the publisher and checks every stream: every message answered 200 to its
// user or topic, in order, nothing else but heartbeats, one registered frame, one TCP
// connection per subscriber and one for the publisher, and a heartbeat after the last
// message (the new process keeps the rhythm).
func (r *upgradeRun) finish(t *testing.T) {
	t.Helper()
	close(r.stop)
	<-r.done
	r.pub.mu.Lock()
	sent, bad := r.pub.sent, r.pub.bad
	r.pub.mu.Unlock()
	var refused int
	for _, b := range bad {
		if r.allow503 && strings.HasSuffix(b, ": 503") {
			refused++
		} else {
			t.Errorf("publish not answered 200: %s", b)
		}
	}
	wants := map[*upSub][]string{}
	for _, s := range r.subs {
		var want []string
		answers := map[string]string{}
		for _, m := range sent {
			if m.to == "user:"+s.user || m.to == "topic:"+s.topic {
				want = append(want, m.id)
				answers[m.id] = m.to + " " + m.answer
			}
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			ids, _, _, _, err := s.snapshot()
			if len(ids) >= len(want) || err != nil {
				break
			}
			if time.Now().After(deadline) {
				got := map[string]bool{}
				for _, id := range ids {
					got[id] = true
				}
				for _, id := range want {
					if !got[id] {
						t.Errorf("%s stream of %s never got %s, answered %s", s.format, s.user, id, answers[id])
					}
				}
				t.FailNow()
			}
		}
		wants[s] = want
	}
	// A heartbeat on every stream after its last message: the new process keeps the rhythm.
	hb := make([]int, len(r.subs))
	for i, s := range r.subs {
		_, _, hb[i], _, _ = s.snapshot()
	}
	waitFor(t, 60*time.Second, "a heartbeat after the last message on every stream", func() bool {
		for i, s := range r.subs {
			if _, _, h, _, err := s.snapshot(); h <= hb[i] && err == nil {
				return false
			}
		}
		return true
	})
	for _, s := range r.subs {
		want := wants[s]
		ids, reg, _, controls, err := s.snapshot()
		if err != nil {
			t.Errorf("%s stream of %s ended: %v", s.format, s.user, err)
		}
		if reg != 1 {
			t.Errorf("%s stream of %s: %d registered frames; want 1", s.format, s.user, reg)
		}
		if len(controls) > 0 {
			t.Errorf("%s stream of %s: control frames %q", s.format, s.user, controls)
		}
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("%s stream of %s: got %d messages, want %d in publish order (first difference at %d)",
				s.format, s.user, len(ids), len(want), firstDiff(ids, want))
		}
	}
	own := 0 // HTTP/2 streams share their clients' connections, counted by those
	for _, s := range r.subs {
		if !s.shared {
			own++
		}
	}
	if d := r.cnt.dials.Load(); d != int64(own) {
		t.Errorf("subscribers opened %d TCP connections; want %d (no reconnect)", d, own)
	}
	if d := r.pub.cnt.dials.Load(); d != 1 {
		t.Errorf("the publisher opened %d TCP connections (at %v); want 1 (its keep-alive connection moved too)", d, r.pub.cnt.when())
	}
	t.Logf("%d streams, %d messages answered 200, %d answered 503", len(r.subs), len(sent), refused)
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (u *upgradable) stats(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + u.api + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUpgradeKeepsEveryStream: SIGUSR2 mid-stream with a differently versioned binary
// installed: the old process exits 0, the new one reports its version and one upgrade, and
// every subscriber gets every message answered 200, in order, over its one connection,
// without a second registered frame; the publisher's connection moved too.
func TestUpgradeKeepsEveryStream(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")

	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "2s")
	r := startUpgradeRun(t, u, 3)
	r.published(t, 100)
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	r.published(t, 100)
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrades": 1.0, "upgrades_failed": 0.0,
		"connections": float64(len(r.subs))})
	r.finish(t)
}

// TestUpgradeCrashedNewProcess: the new binary exits during the handoff; the old process takes
// everything back and carries on (logged, counted): no stream notices, no message answered 200
// is lost — TLS 1.2 and 1.3 streams included, whose queued output was sealed for the export
// and is written by the old process after all, and HTTP/2 streams (h2c and TLS), whose
// codecs carry on as they were. A second SIGUSR2 during the upgrade is ignored with a log
// line; a later upgrade to a good binary then succeeds, and the HTTP/2 clients never dial
// again.
func TestUpgradeCrashedNewProcess(t *testing.T) {
	dir, installed := buildInstalled(t, "crash-test", "v2")
	u, tlsEdge := startTLSUpgradable(t, installed, []string{"PUSHWIRE_TEST_CRASH_IN_HANDOFF=1"})
	r := newUpgradeRun(upTopics)
	r.subscribeTLSToo(t, u.edge, tlsEdge, 2, 1)
	var h2Dials counter
	r.subscribeH2(t, h2Client(&h2Dials, false), "http://"+u.edge, 1)
	r.subscribeH2(t, h2Client(&h2Dials, true), "https://"+tlsEdge, 1)
	r.publish(t, u.api, 5*time.Millisecond)
	r.published(t, 100)
	u.install(filepath.Join(dir, "pushwire-crash-test"))
	u.usr2()
	u.waitLog(`upgrade: started the new binary`)
	u.usr2()
	u.waitLog(`SIGUSR2 ignored: an upgrade is already running`)
	// after everything was detached and sent
	u.waitLog(`upgrade failed; this process keeps its connections.*did not become ready`)
	r.carriesOnThenUpgrades(t, u, dir) // upgrade_stream_test.go
	if d := h2Dials.dials.Load(); d != 2 {
		t.Errorf("the HTTP/2 clients dialled %d connections; want 2 (no reconnect)", d)
	}
}

// TestUpgradeKeepsQoS1: a standalone node keeps QoS 1 messages in memory; they go with the
// upgrade. A message stored for an offline user is replayed by the new process when the user
// subscribes; a message the old process wrote to a stream is acknowledged on the new one
// (the sent log came across: the ack removes it); the message ids keep increasing.
func TestUpgradeKeepsQoS1(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")

	post := func(host, path, body string, hdr ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+host+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	a := &upSub{format: "ndjson", user: "qa", topic: "none"}
	ready := make(chan error, 1)
	var cnt counter
	go a.run(&cnt, u.edge, ready)
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	st, ans := post(u.api, "/pub/user/qa", "to a", "Push-QoS", "1")
	if st != 200 {
		t.Fatalf("QoS 1 publish to an online user = %d %v", st, ans)
	}
	sentID := ans["id"].(string)
	waitFor(t, ioTimeout, "the QoS 1 message on the stream", func() bool { ids, _, _, _, _ := a.snapshot(); return len(ids) == 1 })
	st, ans = post(u.api, "/pub/user/qb", "to b", "Push-QoS", "1")
	if st != 202 || ans["stored"] != true {
		t.Fatalf("QoS 1 publish to an offline user = %d %v; want 202 stored", st, ans)
	}
	storedID := ans["id"].(string)
	if s := u.stats(t); s["stored_users"] != 2.0 {
		t.Fatalf("stored_users before the upgrade = %v; want 2", s["stored_users"])
	}

	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	if s := u.stats(t); s["version"] != "v2" || s["stored_users"] != 2.0 {
		t.Fatalf("after the upgrade: version %v, stored_users %v; want v2, 2", s["version"], s["stored_users"])
	}
	// The ack names the conn key the old process gave and the id it wrote.
	st, ans = post(u.edge, "/ack?conn="+a.keyText()+"&id="+sentID, "")
	if st != 200 || ans["acked"] != 1.0 {
		t.Errorf("POST /ack on the new process = %d %v; want 200 acked 1", st, ans)
	}
	if s := u.stats(t); s["stored_users"] != 1.0 {
		t.Errorf("stored_users after the ack = %v; want 1 (qb's message)", s["stored_users"])
	}
	b := &upSub{format: "ndjson", user: "qb", topic: "none"}
	go b.run(&cnt, u.edge, ready)
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	waitFor(t, ioTimeout, "the stored message replayed by the new process", func() bool { ids, _, _, _, _ := b.snapshot(); return len(ids) == 1 })
	if ids, _, _, _, _ := b.snapshot(); ids[0] != storedID {
		t.Errorf("replayed id %s; want %s", ids[0], storedID)
	}
	st, ans = post(u.api, "/pub/user/qa", "after", "Push-QoS", "1")
	next, _ := strconv.ParseUint(fmt.Sprint(ans["id"]), 10, 64)
	if prev, _ := strconv.ParseUint(sentID, 10, 64); st != 200 || next <= prev {
		t.Errorf("a publish after the upgrade = %d %v; want 200 with an id above %s", st, ans, sentID)
	}
}

// TestUpgradeInCluster: three nodes on one Redis; the subscribers are on node a, the
// publisher sends through node b. Node a is upgraded mid-stream: it keeps its node id and
// link address (the link listener is handed over), b's links reach the new process by
// themselves, every message answered 200 reaches every stream, in order, over its one
// connection. Pushes b forwards while a hands over are refused by a and answered 503 by b,
// never 200 and then lost.
func TestUpgradeInCluster(t *testing.T) {
	redis := "redis://" + redistest.Single(t)
	dir, installed := buildInstalled(t, "v2")
	cl := []string{"--redis", redis, "--cluster-listen", "127.0.0.1:0", "--node-ttl", "15s"}
	a := startUpgradable(t, installed, nil, append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--node-id", "node-a", "--heartbeat", "2s"}, cl...)...)
	link := a.waitLog(`msg="cluster mode".* link=(\S+)`)[1]
	b := startNode(t, append([]string{"--node-id", "node-b"}, cl...)...)
	startNode(t, append([]string{"--node-id", "node-c"}, cl...)...)

	r := startUpgradeRunVia(t, a, b.api, 2, upTopics, 5*time.Millisecond)
	r.allow503 = true
	r.published(t, 100)
	a.install(filepath.Join(dir, "pushwire-v2"))
	a.usr2()
	a.awaitExit0(60 * time.Second)
	if got := a.waitLog(`msg="cluster mode".* link=(\S+)`)[1]; got != link {
		t.Errorf("link address %s before, %s after", link, got)
	}
	r.published(t, 200)
	st := a.stats(t)
	if st["version"] != "v2" || st["node"] != "node-a" {
		t.Errorf("/stats of node a after the upgrade: version %v node %v; want v2 node-a", st["version"], st["node"])
	}
	r.finish(t)
}

// TestUpgradeAtScale: TestUpgradeKeepsEveryStream with 5,000 subscribers (1,250 of each
// format, 500 topics; 500 and 50 with -short). It logs the figures BENCHMARKS.md quotes: the
// handoff's duration, the longest wait between two publish answers around it, the memory of
// each process per connection.
func TestUpgradeAtScale(t *testing.T) {
	perFormat := *upgradeScale
	if testing.Short() {
		perFormat = 125
	}
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "5s")
	r := startUpgradeRunVia(t, u, u.api, perFormat, perFormat*4/10, 2*time.Millisecond)
	r.published(t, 500)
	oldRSS := rssKB(t, u.cmd.Process.Pid)
	if *upgradePerf != "" { // symbols for perf report: both binaries are gone by then
		for _, bin := range []string{installed, filepath.Join(dir, "pushwire-v2")} {
			if out, err := exec.Command("perf", "buildid-cache", "-a", bin).CombinedOutput(); err != nil {
				t.Fatalf("perf buildid-cache: %v %s", err, out)
			}
		}
	}
	u.install(filepath.Join(dir, "pushwire-v2"))
	if *upgradePerf != "" {
		perf := exec.Command("perf", "record", "-F", "4999", "-g", "-a", "-o", *upgradePerf, "--", "sleep", "3")
		if err := perf.Start(); err != nil {
			t.Fatal(err)
		}
		defer perf.Wait()
		time.Sleep(500 * time.Millisecond)
		t.Logf("perf: old process pid %d", u.cmd.Process.Pid)
	}
	sent := time.Now()
	u.usr2()
	u.awaitExit0(90 * time.Second)
	exitedAt := time.Now()
	took := u.waitLog(`took every connection; exiting" took=(\S+)`)[1]
	handed := u.waitLog(`upgrade: handed over.* paused=(\S+).*`)
	paused := handed[1]
	t.Log(handed[0])
	exited := time.Since(sent)
	r.published(t, 500)
	var pid int
	fmt.Sscan(u.waitLog(`started the new binary.* pid=(\d+)`)[1], &pid)
	if *upgradePerf != "" {
		t.Logf("perf: new process pid %d", pid)
	}
	newRSS := rssKB(t, pid)
	r.pub.mu.Lock()
	longest := r.pub.longest
	r.pub.mu.Unlock()
	gap := r.seen.longestGap(sent.Add(-time.Second), exitedAt.Add(time.Second))
	r.finish(t)
	n := len(r.subs) + 1
	t.Logf("%d connections: paused %s (nothing read from the first detach to go), handoff took %s (SIGUSR2 to the old process's exit: %v); longest wait between publish answers %v; longest gap in deliveries seen by the subscribers %v; RSS %d KiB before (%d B a connection), %d KiB in the new process after (%d B a connection); race detector %v",
		n, paused, took, exited.Round(time.Millisecond), longest.Round(time.Millisecond), gap.Round(time.Millisecond), oldRSS, oldRSS*1024/n, newRSS, newRSS*1024/n, *upgradeRace)
}

// rssKB reads a process's resident set size.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// TestUpgradeMovesTLS: TLS 1.2 and 1.3 subscribers in every format, beside plaintext ones,
// keep their one TCP connection across SIGUSR2: the record layer's keys, traffic secrets and
// sequence numbers move with them, so none gets the reconnect frame (upgrade_reconnects 0)
// and every message answered 200 arrives, in order. A client that resumes its TLS session
// after the upgrade does so with a ticket the old process issued: the ticket keys moved too.
func TestUpgradeMovesTLS(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u, tlsEdge := startTLSUpgradable(t, installed, nil)
	resumers := map[uint16]*tls.Config{}
	for _, v := range tlsVersions {
		cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
		if tlsRequest(t, tlsEdge, cfg) {
			t.Fatalf("TLS %x: the first connection resumed a session", v)
		}
		resumers[v] = cfg
	}

	r := newUpgradeRun(upTopics)
	r.subscribeTLSToo(t, u.edge, tlsEdge, 1, 2)
	r.publish(t, u.api, 5*time.Millisecond)
	r.published(t, 100)
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	r.published(t, 100)
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrades": 1.0, "upgrade_reconnects": 0.0})
	for v, cfg := range resumers {
		if !tlsRequest(t, tlsEdge, cfg) {
			t.Errorf("TLS %x: no session resumed after the upgrade (the old process's ticket keys did not move)", v)
		}
	}
	r.finish(t)
}

// tlsRequest makes one request over a new TLS connection configured by cfg, reads the answer
// (a TLS 1.3 ticket arrives after the handshake) and reports whether the session resumed.
func tlsRequest(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	fmt.Fprintf(c, "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a request over TLS: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c.ConnectionState().DidResume
}

// TestUpgradeEndsH2: an HTTP/2 connection that does not come quiet cannot move — this one
// stopped half-way through a frame header, so its codec is mid-frame — and after a moment
// each of its streams gets the reconnect frame, then the connection gets GOAWAY, each stream
// counted in upgrade_reconnects (/stats and /metrics). A quiet HTTP/2 connection beside it
// moves: no reconnect frame, no GOAWAY, and a push after the upgrade reaches both its streams;
// the HTTP/1.1 streams beside them move untouched.
func TestUpgradeEndsH2(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "2s")
	quiet := dialH2Streams(t, u.edge, "/sub?topic=h2only&format=sse", 2)
	stalled := dialH2Streams(t, u.edge, "/sub?topic=h2only&format=sse", 2)
	stalled.send(t, []byte{0, 0, 8, 6}) // 4 of a PING's 9 header bytes, and no more
	r := newUpgradeRun(upTopics)
	r.subscribe(t, u.edge, 0, 1)
	r.publish(t, u.api, 5*time.Millisecond)
	r.published(t, 100)
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	r.published(t, 100)
	waitFor(t, ioTimeout, "the reconnect event on both streams of the stalled connection and GOAWAY", func() bool {
		reconnects, goaway, _ := stalled.seen()
		return reconnects == 2 && goaway
	})
	resp, err := http.Post("http://"+u.api+"/pub/topic/h2only", "application/json", strings.NewReader(`"after"`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("publish to the HTTP/2 streams' topic after the upgrade: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, ioTimeout, "the push on both streams of the quiet connection", func() bool {
		_, _, messages := quiet.seen()
		return messages == 2
	})
	if reconnects, goaway, _ := quiet.seen(); reconnects != 0 || goaway {
		t.Errorf("the quiet HTTP/2 connection got %d reconnect events, GOAWAY %v; want none (it moved)", reconnects, goaway)
	}
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrade_reconnects": 2.0})
	f := promscrape.Scrape(t, http.DefaultClient, u.api)
	if v, ok := f.Value("pushwire_upgrade_reconnects_total"); !ok || v != 2 {
		t.Errorf("pushwire_upgrade_reconnects_total = %v, %v; want 2", v, ok)
	}
	if v, ok := f.Value("pushwire_upgrades_total"); !ok || v != 1 {
		t.Errorf("pushwire_upgrades_total = %v, %v; want 1", v, ok)
	}
	if v, ok := f.Value("pushwire_upgrades_failed_total"); !ok || v != 0 {
		t.Errorf("pushwire_upgrades_failed_total = %v, %v; want 0", v, ok)
	}
	r.finish(t)
}

// h2Streams is an h2c connection with subscribe streams, read on a goroutine: which streams
// got the reconnect event, whether GOAWAY came, and the message events after registration.
type h2Streams struct {
	c          net.Conn
	mu         sync.Mutex
	reconnects map[uint32]bool
	goaway     bool
	messages   int
}

func (h *h2Streams) seen() (reconnects int, goaway bool, messages int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reconnects), h.goaway, h.messages
}

// send writes raw bytes on the connection.
func (h *h2Streams) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := h.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// dialH2Streams opens an h2c connection (prior knowledge) to edge with n GET streams of path.
func dialH2Streams(t *testing.T, edge, path string, n int) *h2Streams {
	t.Helper()
	c, fr, w := dialH2(t, edge, false, path, n)
	h := &h2Streams{c: c, reconnects: map[uint32]bool{}}
	registered := make(chan uint32, n)
	go readH2Frames(fr, w, func(f http2.Frame) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch f := f.(type) {
		case *http2.DataFrame:
			d := f.Data()
			if bytes.Contains(d, []byte("event: registered")) {
				registered <- f.StreamID
			}
			if bytes.Contains(d, []byte("event: reconnect")) {
				h.reconnects[f.StreamID] = true
			}
			if bytes.HasPrefix(d, []byte("id: ")) || bytes.Contains(d, []byte("\nid: ")) {
				h.messages++
			}
		case *http2.GoAwayFrame:
			h.goaway = true
		}
	})
	for range n {
		select {
		case <-registered:
		case <-time.After(ioTimeout):
			t.Fatal("an HTTP/2 stream got no registered event")
		}
	}
	return h
}

// dialH2 dials edge, over TLS with ALPN h2 when tlsOn, and opens n GET streams of path on it
// (openH2Streams); the connection closes when the test ends.
func dialH2(t *testing.T, edge string, tlsOn bool, path string, n int) (net.Conn, *http2.Framer, *bufio.Writer) {
	t.Helper()
	c, err := net.DialTimeout("tcp", edge, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if tlsOn {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
			t.Fatalf("TLS handshake with %s: %v, ALPN %q", edge, err, tc.ConnectionState().NegotiatedProtocol)
		}
		c = tc
	}
	fr, w := openH2Streams(c, path, n)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return c, fr, w
}

// openH2Streams writes to c the h2c preface, SETTINGS and a connection window opened wide, and
// the HEADERS of n GET streams of path (ids 1, 3, …; flow control never waits); the caller
// flushes w and reads with the framer.
func openH2Streams(c net.Conn, path string, n int) (*http2.Framer, *bufio.Writer) {
	w := bufio.NewWriter(c)
	w.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(w, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	fr.WriteWindowUpdate(0, 1<<30)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := range n {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true})
	}
	return fr, w
}

// readH2Frames reads frames off fr until an error, acknowledging the server's SETTINGS (through
// w) and handing every other frame to fn.
func readH2Frames(fr *http2.Framer, w *bufio.Writer, fn func(http2.Frame)) {
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			fr.WriteSettingsAck()
			w.Flush()
			continue
		}
		fn(f)
	}
}
