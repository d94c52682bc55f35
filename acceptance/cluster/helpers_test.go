// Package cluster_test drives a real cluster — one redis-server and several
// pushwire processes, all started by the tests on free loopback ports — over
// real sockets, and checks what SPEC.md §4, §5 and §8 promise across nodes:
// push to any node, order through another node, dead nodes, Redis outages,
// cut links, and fan-out over thousands of connections on several nodes.
package cluster_test

import (
	"bufio"
	"bytes"
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
	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/pushwire/pushwire/internal/freeport"
)

// binary is the pushwire executable TestMain builds once for every test.
var binary string

// ioTimeout bounds every single read, write or request a test makes, so that
// a server that never answers fails the test instead of hanging it. It is
// not a performance criterion.
const ioTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	flag.Parse()
	if _, err := exec.LookPath("redis-server"); err != nil {
		// Not a skip: these tests are the cluster's only end-to-end proof.
		fmt.Fprintln(os.Stderr, "acceptance/cluster: redis-server not found (apt-get install redis-server):", err)
		os.Exit(1)
	}
	os.Exit(testbin.Run(m, &binary))
}

// freePort returns a loopback port held for the test, for the listeners that
// must keep their port across a restart (Redis, a node's cluster link);
// internal/freeport says why not port 0.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := freeport.Take(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { freeport.Release(ports...) })
	return ports[0]
}

// process is a child process whose stderr (and stdout) is kept.
type process struct {
	name string
	cmd  *exec.Cmd

	mu   sync.Mutex
	logs bytes.Buffer
	seen []*lineWait // lines waited for, not yet seen

	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // valid once exited is closed
}

type lineWait struct {
	re *regexp.Regexp
	ch chan []string
}

// startProcess runs name args, keeping its output, and kills it when the
// test ends; on failure its output is logged.
func startProcess(t *testing.T, label string, name string, args ...string) *process {
	t.Helper()
	p := &process{name: label, exited: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	out, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s %v: %v", name, args, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line)
			p.logs.WriteByte('\n')
			kept := p.seen[:0]
			for _, w := range p.seen {
				if m := w.re.FindStringSubmatch(line); m != nil {
					w.ch <- m
				} else {
					kept = append(kept, w)
				}
			}
			p.seen = kept
			p.mu.Unlock()
		}
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		testbin.CheckOutput(t, p.name, p.logText())
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.logText())
		}
	})
	return p
}

// expect returns a channel that gets the submatches of the first line, from
// now on, that matches re. Call it before the event that logs the line.
func (p *process) expect(re *regexp.Regexp) <-chan []string {
	w := &lineWait{re: re, ch: make(chan []string, 1)}
	p.mu.Lock()
	p.seen = append(p.seen, w)
	p.mu.Unlock()
	return w.ch
}

// awaitLine waits for a line expect registered, failing if the process
// ends or says nothing within ioTimeout.
func (p *process) awaitLine(t *testing.T, ch <-chan []string, what string) []string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-p.exited:
		t.Fatalf("%s exited (%v) before it logged %s:\n%s", p.name, p.waitErr, what, p.logText())
	case <-time.After(ioTimeout):
		t.Fatalf("%s logged no %s within %v:\n%s", p.name, what, ioTimeout, p.logText())
	}
	return nil
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// alive reports whether the process is still running.
func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// redisServer is a redis-server on a fixed loopback port, which it keeps
// across stop and start.
type redisServer struct {
	t    *testing.T
	port int
	proc *process
}

// startRedis runs redis-server without persistence on a free port.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{t: t, port: freePort(t)}
	r.start()
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() }

// start runs redis-server on r.port (again, after stop) and waits until it
// answers PING. It starts empty: nothing is saved.
func (r *redisServer) start() {
	r.t.Helper()
	r.proc = startProcess(r.t, "redis-server :"+strconv.Itoa(r.port), "redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	deadline := time.Now().Add(ioTimeout)
	for {
		err := redisPing(r.addr())
		if err == nil {
			return
		}
		if !r.proc.alive() || time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s does not answer PING: %v\n%s", r.addr(), err, r.proc.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills redis-server (kill -9): every client connection drops at once.
func (r *redisServer) stop() { r.proc.kill() }

// redisPing sends one inline PING and wants +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// node is one running pushwire process in cluster mode.
type node struct {
	t           *testing.T
	id          string
	clusterPort int      // kept across restart
	flags       []string // the cluster flags it was started with
	proc        *process
	edge, api   string // bound addresses, from the "pushwire started" line
	client      *http.Client
}

var (
	startedLine = regexp.MustCompile(`msg="pushwire started".* edge=(\S+) api=(\S+)`)
	clusterLine = regexp.MustCompile(`msg="cluster mode".* link=(\S+)`)
)

// nodeOptions are the settings a test cluster's nodes share.
type nodeOptions struct {
	redisURL string
	nodeTTL  time.Duration
	extra    []string // more flags
}

// startNode runs pushwire in cluster mode as node id; the kernel picks its
// cluster port (a port chosen ahead could be taken by a parallel test before
// the node binds it), which restart then keeps.
func startNode(t *testing.T, id string, o nodeOptions) *node {
	t.Helper()
	n := &node{t: t, id: id}
	n.flags = append([]string{"--redis", o.redisURL, "--node-id", id,
		"--node-ttl", o.nodeTTL.String()}, o.extra...)
	n.run()
	return n
}

// run starts the process with n's id, cluster port and flags, on fresh
// edge and api ports, and waits until it says it is in cluster mode.
func (n *node) run() {
	n.t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--cluster-listen", "127.0.0.1:" + strconv.Itoa(n.clusterPort)}, n.flags...)
	n.proc = startProcess(n.t, "pushwire "+n.id, binary, args...)
	started := n.proc.expect(startedLine)
	clustered := n.proc.expect(clusterLine)
	m := n.proc.awaitLine(n.t, started, `"pushwire started"`)
	n.edge, n.api = m[1], m[2]
	link := n.proc.awaitLine(n.t, clustered, `"cluster mode"`)[1]
	if _, port, err := net.SplitHostPort(link); err == nil {
		n.clusterPort, _ = strconv.Atoi(port)
	}
	if n.client != nil {
		n.client.CloseIdleConnections()
	}
	n.client = &http.Client{
		Timeout:   ioTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true},
	}
	n.t.Cleanup(n.client.CloseIdleConnections)
}

// kill9 kills the node with SIGKILL: no drain, no goodbye to Redis.
func (n *node) kill9() { n.proc.kill() }

// restart runs the node again (after kill9) with the same id and cluster
// port; its edge and api ports change.
func (n *node) restart() {
	n.t.Helper()
	n.proc.kill()
	n.run()
}

// pause stops the process (kill -STOP) until every thread is stopped, and
// resume continues it.
func (n *node) pause() {
	n.t.Helper()
	redistest.Pause(n.t, n.proc.cmd.Process)
}

func (n *node) resume() {
	n.t.Helper()
	if err := n.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		n.t.Fatalf("SIGCONT %s: %v", n.id, err)
	}
}

// cluster is one Redis and the nodes that share it.
type cluster struct {
	redis *redisServer // nil on a Redis Cluster (startOnRedisCluster)
	nodes []*node
	opts  nodeOptions
}

// startCluster starts Redis and count nodes named a, b, c, ….
func startCluster(t *testing.T, count int, nodeTTL time.Duration, extra ...string) *cluster {
	t.Helper()
	c := &cluster{redis: startRedis(t)}
	c.opts = nodeOptions{redisURL: c.redis.url(), nodeTTL: nodeTTL, extra: extra}
	for i := range count {
		c.nodes = append(c.nodes, startNode(t, string(rune('a'+i)), c.opts))
	}
	return c
}

// redisTrouble are log texts of a node that could not use Redis: any of them
// while Redis is healthy means a command failed there (on a Redis Cluster, a
// CROSSSLOT or a redirect not followed would show as one of these).
var redisTrouble = []string{
	"CROSSSLOT", "MOVED", "ASK ", "redis directory unreachable", "redis directory not reachable",
	"redis message store unreachable", "registration was lost", "collecting dead node entries",
	"QoS 1 store", "QoS 1 message not stored", "directory unavailable",
}

// noRedisTrouble fails the test when a node logged a Redis failure.
func noRedisTrouble(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		logs := n.proc.logText()
		for _, bad := range redisTrouble {
			if strings.Contains(logs, bad) {
				t.Errorf("node %s logged %q with Redis healthy:\n%s", n.id, bad, logs)
				break
			}
		}
	}
}

// answer is one api answer; the publish fields are decoded when present.
type answer struct {
	status int
	ctype  string
	body   []byte

	ID        string `json:"id"`
	Delivered int    `json:"delivered"`
	Nodes     int    `json:"nodes"`
	Stored    bool   `json:"stored"`
	Error     string `json:"error"`
	Status    int    `json:"status"` // batch result lines only
	// Partial delivery and idempotency keys (SPEC §4).
	Unreachable []string `json:"unreachable"`
	Duplicate   bool     `json:"duplicate"`
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// try sends one request to the api listener within timeout and returns
// the answer, or the error (a timeout counts as a hang). hdr holds name,
// value pairs.
func (n *node) try(timeout time.Duration, method, path, body string, hdr ...string) (answer, error) {
	req, err := http.NewRequest(method, "http://"+n.api+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: timeout, Transport: n.client.Transport}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("read body: %w", err)
	}
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
	if resp.Header.Get("Content-Type") != "application/x-ndjson" && len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &a); err != nil {
			return a, fmt.Errorf("answer %d body %q is not JSON: %v", a.status, b, err)
		}
	}
	return a, nil
}

// pub publishes body to /pub/<to> (to as in "user/42") and fails the test if
// no answer comes within ioTimeout.
func (n *node) pub(to, body string, hdr ...string) answer {
	n.t.Helper()
	a, err := n.try(ioTimeout, "POST", "/pub/"+to, body, hdr...)
	if err != nil {
		n.t.Fatalf("node %s: POST /pub/%s: %v", n.id, to, err)
	}
	return a
}

// mustPub publishes and requires status 200 with the delivered and nodes
// counts given.
func (n *node) mustPub(to, body string, delivered, nodes int, hdr ...string) answer {
	n.t.Helper()
	a := n.pub(to, body, hdr...)
	if a.status != 200 || a.Delivered != delivered || a.Nodes != nodes || a.ID == "" {
		n.t.Fatalf("node %s: POST /pub/%s = %v; want 200 with an id, delivered %d, nodes %d", n.id, to, a, delivered, nodes)
	}
	return a
}

// batch posts NDJSON lines to /pub and returns the result lines decoded.
func (n *node) batch(lines ...string) []answer {
	n.t.Helper()
	a, err := n.try(ioTimeout, "POST", "/pub", strings.Join(lines, "\n")+"\n", "Content-Type", "application/x-ndjson")
	if err != nil {
		n.t.Fatalf("node %s: POST /pub: %v", n.id, err)
	}
	if a.status != 200 {
		n.t.Fatalf("node %s: POST /pub = %v; want 200", n.id, a)
	}
	out := strings.Split(strings.TrimSuffix(string(a.body), "\n"), "\n")
	if len(out) != len(lines) {
		n.t.Fatalf("node %s: POST /pub: %d result lines for %d input lines:\n%s", n.id, len(out), len(lines), a.body)
	}
	res := make([]answer, len(out))
	for i, l := range out {
		res[i].body = []byte(l)
		if err := json.Unmarshal([]byte(l), &res[i]); err != nil {
			n.t.Fatalf("node %s: POST /pub result line %d %q: %v", n.id, i, l, err)
		}
		res[i].status = res[i].Status
	}
	return res
}

// stats returns the numeric fields of /stats.
func (n *node) stats() map[string]float64 {
	n.t.Helper()
	a, err := n.try(ioTimeout, "GET", "/stats", "")
	if err != nil || a.status != 200 {
		n.t.Fatalf("node %s: GET /stats = %v, %v; want 200", n.id, a, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(a.body, &raw); err != nil {
		n.t.Fatalf("node %s: GET /stats body %q: %v", n.id, a.body, err)
	}
	out := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// probeEvent marks pushes that only wait for the directory to know a
// target; streams skip them.
const probeEvent = "probe"

// waitDelivered publishes probe pushes to /pub/<to> through n until one
// answers 200 with delivered and nodes as given: registrations reach the
// directory asynchronously after a subscribe is answered.
func (n *node) waitDelivered(to string, delivered, nodes int, within time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(within)
	var last answer
	for {
		a, err := n.try(ioTimeout, "POST", "/pub/"+to, `"probe"`, "Push-Event", probeEvent, "Content-Type", "application/json")
		if err != nil {
			n.t.Fatalf("node %s: probe POST /pub/%s: %v", n.id, to, err)
		}
		if a.status == 200 && a.Delivered == delivered && a.Nodes == nodes {
			return
		}
		last = a
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s: POST /pub/%s still answers %v after %v; want 200 delivered %d nodes %d",
				n.id, to, last, within, delivered, nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil polls cond until it reports ok or within passes, then fails
// with want and the last state cond reported.
func waitUntil(t *testing.T, within time.Duration, want string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s; want %s", within, state, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stream is one ndjson subscribe request held open over a raw socket.
type stream struct {
	t    *testing.T
	node string
	conn net.Conn
	body *bufio.Reader // the response body, chunking removed
	key  string        // Push-Conn
}

// frame is one ndjson message packet.
type frame struct {
	Protocol int             `json:"protocol"`
	ID       string          `json:"id"`
	To       string          `json:"to"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
	State    string          `json:"state"`
	Conn     string          `json:"conn"`
	Resend   bool            `json:"resend"` // a stored message the client may have had
}

var connKeyShape = regexp.MustCompile(`^[A-Za-z0-9_-]{32}\.([A-Za-z0-9_-]+)$`)

// subscribe opens GET /sub?<query> on n's edge, requires 200, a Push-Conn
// key that names n, and the registered packet.
func (n *node) subscribe(query string) *stream {
	n.t.Helper()
	s, err := openStream(n.edge, query, 4096)
	if err != nil {
		n.t.Fatalf("node %s: subscribe %s: %v", n.id, query, err)
	}
	s.t, s.node = n.t, n.id
	n.t.Cleanup(func() { s.conn.Close() })
	if m := connKeyShape.FindStringSubmatch(s.key); m == nil || m[1] != n.id {
		n.t.Fatalf("node %s: Push-Conn %q; want <22 base64url chars>.%s", n.id, s.key, n.id)
	}
	return s
}

// openStream subscribes without a *testing.T (for use from many goroutines)
// and reads up to the registered packet.
func openStream(edge, query string, bufSize int) (*stream, error) {
	return openStreamNotify(edge, query, bufSize, nil)
}

// openStreamNotify is openStream that closes written (when not nil) as soon
// as the subscribe request is written, before the server answers it.
func openStreamNotify(edge, query string, bufSize int, written chan struct{}) (*stream, error) {
	if written != nil {
		defer func() {
			select {
			case <-written:
			default:
				close(written)
			}
		}()
	}
	c, err := net.DialTimeout("tcp", edge, ioTimeout)
	if err != nil {
		return nil, err
	}
	s := &stream{conn: c}
	c.SetDeadline(time.Now().Add(ioTimeout))
	_, err = fmt.Fprintf(c, "GET /sub?%s HTTP/1.1\r\nHost: %s\r\n\r\n", query, edge)
	if written != nil {
		close(written)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	raw := bufio.NewReaderSize(c, bufSize)
	resp, err := http.ReadResponse(raw, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read response head: %w", err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		c.Close()
		return nil, fmt.Errorf("status %d %s", resp.StatusCode, b)
	}
	s.key = resp.Header.Get("Push-Conn")
	s.body = bufio.NewReaderSize(resp.Body, bufSize)
	f, err := s.read()
	if err != nil {
		c.Close()
		return nil, err
	}
	if f.Protocol != 1 || f.State != "registered" || f.Conn != s.key {
		c.Close()
		return nil, fmt.Errorf("first packet %+v; want the registered packet for %s", f, s.key)
	}
	c.SetDeadline(time.Time{})
	return s, nil
}

// read returns the next packet of any kind.
func (s *stream) read() (frame, error) {
	line, err := s.body.ReadBytes('\n')
	if err != nil {
		return frame{}, fmt.Errorf("stream %s: read: %w (got %q)", s.key, err, line)
	}
	var f frame
	if err := json.Unmarshal(line, &f); err != nil {
		return frame{}, fmt.Errorf("stream %s: packet %q: %w", s.key, line, err)
	}
	return f, nil
}

// nextMessage returns the next message packet within d, skipping
// heartbeats and probe pushes.
func (s *stream) nextMessage(d time.Duration) (frame, error) {
	s.conn.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := s.read()
		if err != nil {
			return f, err
		}
		if f.Protocol == 2 && f.Event != probeEvent {
			return f, nil
		}
	}
}

// message reads the next message and fails the test if none comes.
func (s *stream) message() frame {
	s.t.Helper()
	f, err := s.nextMessage(ioTimeout)
	if err != nil {
		s.t.Fatalf("node %s: %v", s.node, err)
	}
	return f
}

// expect reads the next message and requires its address and data.
func (s *stream) expect(to, data string) frame {
	s.t.Helper()
	f := s.message()
	if f.To != to || string(f.Data) != data {
		s.t.Fatalf("node %s stream %s: got message to %q data %s; want to %q data %s", s.node, s.key, f.To, f.Data, to, data)
	}
	return f
}
