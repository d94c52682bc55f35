// Package acceptance drives a built pushwire binary over real loopback sockets
// and checks what SPEC.md promises users: endpoints, frames, statuses, limits,
// drain. It knows nothing of the server's insides.
package acceptance

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/acceptance/internal/testbin"
)

// binary is the pushwire executable TestMain builds once for every test.
var binary string

// ioTimeout bounds every single read or write a test makes, so that a server
// that never answers fails the test instead of hanging it. It is not a
// performance criterion.
const ioTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testbin.Run(m, &binary))
}

// node is one running pushwire process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	edge string // host:port of the edge listener
	api  string // host:port of the api listener

	mu   sync.Mutex
	logs bytes.Buffer // stderr, all of it

	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // valid once exited is closed

	client *http.Client // for the api listener
}

var startedLine = regexp.MustCompile(`msg="pushwire started".* edge=(\S+) api=(\S+)`)

// startNode runs pushwire on free loopback ports with the extra flags given,
// waits for its "pushwire started" line and stops it when the test ends.
func startNode(t *testing.T, flags ...string) *node {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}, flags...)
	return startNodeArgs(t, args...)
}

// startNodeArgs runs pushwire with exactly args.
func startNodeArgs(t *testing.T, args ...string) *node {
	t.Helper()
	return startNodeEnv(t, nil, args...)
}

// startNodeEnv runs pushwire with exactly args and env ("NAME=value") added
// to the test's environment.
func startNodeEnv(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	n := &node{t: t, exited: make(chan struct{})}
	n.cmd = exec.Command(binary, args...)
	if env != nil {
		n.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stdout = io.Discard
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start pushwire %v: %v", args, err)
	}
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.logs.WriteString(line)
			n.logs.WriteByte('\n')
			n.mu.Unlock()
			if m := startedLine.FindStringSubmatch(line); m != nil && !sent {
				found <- [2]string{m[1], m[2]}
				sent = true
			}
		}
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			n.cmd.Process.Kill()
			<-n.exited
		}
		testbin.CheckOutput(t, fmt.Sprintf("pushwire %v", args), n.logText())
		if t.Failed() {
			t.Logf("pushwire %v stderr:\n%s", args, n.logText())
		}
		if n.client != nil {
			n.client.CloseIdleConnections()
		}
	})
	select {
	case addrs := <-found:
		n.edge, n.api = addrs[0], addrs[1]
	case <-n.exited:
		t.Fatalf("pushwire %v exited before it started (%v):\n%s", args, n.waitErr, n.logText())
	case <-time.After(ioTimeout):
		t.Fatalf("pushwire %v logged no \"pushwire started\" line:\n%s", args, n.logText())
	}
	n.client = &http.Client{
		Timeout:   ioTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true},
	}
	return n
}

func (n *node) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// signal sends sig to the process. pushwire logs "pushwire started" before
// it installs its signal handler, so a signal sent at once can kill it with
// the default action; signal first waits out that window.
func (n *node) signal(sig os.Signal) {
	n.t.Helper()
	time.Sleep(200 * time.Millisecond)
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (n *node) waitExit(within time.Duration) int {
	n.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(within):
		n.t.Fatalf("pushwire did not exit within %v", within)
	}
	if n.waitErr == nil {
		return 0
	}
	if ee, ok := n.waitErr.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	n.t.Fatalf("wait: %v", n.waitErr)
	return -1
}

// apiResult is one answer of the api listener.
type apiResult struct {
	status int
	header http.Header
	body   []byte
}

// fields decodes a JSON object answer into its raw fields.
func (r apiResult) fields(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends one request to the api listener. hdr holds header name, value pairs.
func (n *node) do(method, path, body string, hdr ...string) apiResult {
	n.t.Helper()
	var rd io.Reader
	if body != "" || method == "POST" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+n.api+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return apiResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// pub publishes body to address path (e.g. "topic/news") and returns the answer.
func (n *node) pub(path, body string, hdr ...string) apiResult {
	n.t.Helper()
	return n.do("POST", "/pub/"+path, body, hdr...)
}

// mustPub publishes and requires status want.
func (n *node) mustPub(want int, path, body string, hdr ...string) map[string]json.RawMessage {
	n.t.Helper()
	r := n.pub(path, body, hdr...)
	if r.status != want {
		n.t.Fatalf("POST /pub/%s = %d %s; want %d", path, r.status, r.body, want)
	}
	return r.fields(n.t)
}

// stats returns /stats decoded.
func (n *node) stats() map[string]float64 {
	n.t.Helper()
	r := n.do("GET", "/stats", "")
	if r.status != 200 {
		n.t.Fatalf("GET /stats = %d %s; want 200", r.status, r.body)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		n.t.Fatalf("GET /stats body %q: %v", r.body, err)
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes, then fails with what.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stream is one subscribe request held open over a raw socket.
type stream struct {
	t    *testing.T
	conn net.Conn
	raw  *bufio.Reader // the socket's bytes
	resp *http.Response
	body *bufio.Reader // the response body, chunking removed
	key  string        // Push-Conn
}

// subscribe opens GET target on the edge with HTTP/1.1 and reads the
// response head; it requires 200 and a Push-Conn key. hdr holds name, value pairs.
func (n *node) subscribe(target string, hdr ...string) *stream {
	n.t.Helper()
	s := n.subscribeAny(target, hdr...)
	if s.resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(s.resp.Body, 512))
		n.t.Fatalf("GET %s = %d %s; want 200", target, s.resp.StatusCode, b)
	}
	if s.key == "" {
		n.t.Fatalf("GET %s: no Push-Conn header in %v", target, s.resp.Header)
	}
	return s
}

// subscribeAny opens GET target and reads the response head, whatever its status.
func (n *node) subscribeAny(target string, hdr ...string) *stream {
	n.t.Helper()
	conn := dial(n.t, n.edge)
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", target, n.edge)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	writeAll(n.t, conn, b.String())
	return readStreamHead(n.t, conn, "GET "+target)
}

// readStreamHead reads a response head from conn.
func readStreamHead(t *testing.T, conn net.Conn, what string) *stream {
	t.Helper()
	s := &stream{t: t, conn: conn, raw: bufio.NewReader(conn)}
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(s.raw, nil)
	if err != nil {
		t.Fatalf("%s: read response head: %v", what, err)
	}
	s.resp = resp
	s.body = bufio.NewReader(resp.Body)
	s.key = resp.Header.Get("Push-Conn")
	return s
}

func (s *stream) close() { s.conn.Close() }

// line reads one body line, without its "\n".
func (s *stream) line() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := s.body.ReadString('\n')
	if err != nil {
		s.t.Fatalf("stream %s: read line: %v (got %q)", s.key, err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

// crlfLine reads up to and including the next "\r\n" and returns what came
// before it (which may hold bare "\n").
func (s *stream) crlfLine() string {
	s.t.Helper()
	var acc []byte
	for {
		s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		l, err := s.body.ReadBytes('\n')
		acc = append(acc, l...)
		if err != nil {
			s.t.Fatalf("stream %s: read line: %v (got %q)", s.key, err, acc)
		}
		if bytes.HasSuffix(acc, []byte("\r\n")) {
			return string(acc[:len(acc)-2])
		}
	}
}

// packet reads one ndjson line and returns it with every "time" value
// replaced by T, so it can be compared byte for byte.
func (s *stream) packet() string {
	s.t.Helper()
	return normTime(s.t, s.line())
}

var timeField = regexp.MustCompile(`"time":(\d+)`)

// normTime checks that every "time" field of a packet is a plausible unix
// millisecond time and replaces it with T.
func normTime(t *testing.T, p string) string {
	t.Helper()
	for _, m := range timeField.FindAllStringSubmatch(p, -1) {
		checkUnixMs(t, m[1])
	}
	return timeField.ReplaceAllString(p, `"time":T`)
}

// checkUnixMs requires v to be a unix time in milliseconds within a minute of now.
func checkUnixMs(t *testing.T, v string) {
	t.Helper()
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("time %q is not an integer", v)
	}
	if d := time.Since(time.UnixMilli(ms)); d > time.Minute || d < -time.Minute {
		t.Fatalf("time %s is %v away from now; want unix milliseconds", v, d)
	}
}

// sseEvent reads the lines of one SSE event (up to the blank line).
func (s *stream) sseEvent() []string {
	s.t.Helper()
	var ev []string
	for {
		l := s.line()
		if l == "" {
			if len(ev) == 0 {
				continue
			}
			return ev
		}
		ev = append(ev, l)
	}
}

// part is one multipart part.
type part struct {
	header map[string]string
	order  []string // header names as sent
	body   string
}

// part reads one multipart part: the boundary line, its headers and its body
// (up to the "\r\n" that precedes the next boundary).
func (s *stream) part(boundary string) part {
	s.t.Helper()
	if l := s.crlfLine(); l != "--"+boundary {
		s.t.Fatalf("multipart: got line %q; want boundary %q", l, "--"+boundary)
	}
	p := part{header: map[string]string{}}
	for {
		l := s.crlfLine()
		if l == "" {
			break
		}
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			s.t.Fatalf("multipart: bad part header line %q", l)
		}
		p.header[name] = value
		p.order = append(p.order, name)
	}
	p.body = s.crlfLine()
	return p
}

// expectClosed requires the peer to close the stream (EOF or reset) within
// the deadline, discarding whatever comes first.
func (s *stream) expectClosed(within time.Duration) {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, s.raw)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		s.t.Fatalf("stream %s still open after %v", s.key, within)
	}
}

// dial connects to addr with a deadline.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func writeAll(t *testing.T, c net.Conn, s string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// rawExchange writes req on a fresh connection to addr and returns
// everything the server sends until it closes, or until quiet passes with
// nothing new, and whether it closed.
func rawExchange(t *testing.T, addr, req string, quiet time.Duration) (string, bool) {
	t.Helper()
	c := dial(t, addr)
	writeAll(t, c, req)
	return readUntilQuiet(c, quiet)
}

// readUntilQuiet reads until EOF/reset (closed = true) or until quiet passes
// without a byte.
func readUntilQuiet(c net.Conn, quiet time.Duration) (string, bool) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return string(out), false
			}
			return string(out), true
		}
	}
}

// statusOf returns the status code of the first response in raw, or 0.
func statusOf(raw string) int {
	if !strings.HasPrefix(raw, "HTTP/1.") || len(raw) < 12 {
		return 0
	}
	code, err := strconv.Atoi(raw[9:12])
	if err != nil {
		return 0
	}
	return code
}

var connKeyShape = regexp.MustCompile(`^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{1,64}$`)

// checkConnKey requires 32 base64url characters (the connection's handle
// and 128 random bits), a dot and the holding node's id: URL-safe,
// unguessable and routable across a cluster.
func checkConnKey(t *testing.T, key string) {
	t.Helper()
	if !connKeyShape.MatchString(key) {
		t.Fatalf("Push-Conn %q: want 32 base64url characters, '.', and the node id", key)
	}
	b, err := base64.RawURLEncoding.DecodeString(key[:32])
	if err != nil || len(b)*8 < 96 {
		t.Fatalf("Push-Conn %q decodes to %d bytes (%v); want at least 96 bits", key, len(b), err)
	}
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
