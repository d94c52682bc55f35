// Package redistest starts a real, sharded Redis Cluster for tests: three
// redis-server processes in cluster mode on free loopback ports, joined by
// redis-cli --cluster create, each master owning a third of the 16384 slots.
//
// It is for tests only (it takes a testing.TB and stops everything at
// cleanup). A test that uses it fails, never skips, when redis-server or
// redis-cli is missing: on Debian both come with the redis-server package
// (redis-cli is in redis-tools, which redis-server depends on).
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/freeport"
)

// Shards is how many masters a Cluster has.
const Shards = 3

// startTimeout bounds each step of bringing a cluster up: a server
// answering PING, redis-cli --cluster create, every node seeing
// cluster_state:ok. It is a hang guard, not a performance criterion.
const startTimeout = 30 * time.Second

// Cluster is a running Redis Cluster of Shards masters, with one replica
// each when started by StartWithReplicas.
type Cluster struct {
	t        testing.TB
	nodes    [Shards]*server // the masters, shard 0 first
	replicas [Shards]*server // replicas[i] replicates nodes[i]; nil without replicas
}

// server is one redis-server process and what it printed.
type server struct {
	addr    string
	cmd     *exec.Cmd
	out     lockedBuffer
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // valid once exited is closed
}

// Start runs a Redis Cluster of Shards masters and waits until every node
// reports cluster_state:ok. Everything is killed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return start(t, false)
}

// start runs Shards masters, with a replica each when withReplicas.
func start(t testing.TB, withReplicas bool) *Cluster {
	t.Helper()
	need(t, "redis-server, which brings redis-cli in redis-tools", "redis-server", "redis-cli")
	dir := t.TempDir()
	count, replicas := Shards, "0"
	if withReplicas {
		count, replicas = 2*Shards, "1"
	}
	// A client port and a cluster bus port per node, all held until every one
	// is chosen so that none repeats (the default bus port, port+10000, could
	// be past 65535 for a port from the ephemeral range).
	ports := freePorts(t, 2*count)
	c := &Cluster{t: t}
	t.Cleanup(c.stop)
	all := make([]*server, count)
	for i := range all {
		port, bus := ports[2*i], ports[2*i+1]
		args := []string{"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(dir, "nodes-"+strconv.Itoa(port)+".conf"), "--dir", dir}
		if withReplicas {
			args = append(args, replicaArgs...)
		}
		all[i] = spawn(t, port, args...)
	}
	copy(c.nodes[:], all)
	if withReplicas {
		copy(c.replicas[:], all[Shards:])
	}
	addrs := make([]string, count)
	for i, s := range all {
		addrs[i] = s.addr
		c.await(s, "PING answered", func() (bool, string) {
			r, err := Do(s.addr, "PING")
			return r == "PONG", fmt.Sprintf("PING = %q, %v", r, err)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", replicas, "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.fail("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, s := range all {
		c.await(s, "cluster_state:ok", func() (bool, string) {
			info, err := Do(s.addr, "CLUSTER", "INFO")
			return strings.Contains(info, "cluster_state:ok\r\n"), fmt.Sprintf("CLUSTER INFO = %q, %v", info, err)
		})
	}
	if withReplicas {
		c.pairReplicas()
	}
	return c
}

// need fails the test (never skips it) when a program is missing, naming
// the Debian packages that bring them.
func need(t testing.TB, packages string, bins ...string) {
	t.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not installed: %v (apt-get install %s)", bin, err, packages)
		}
	}
}

// spawn starts redis-server on port, without persistence, with more
// arguments; it does not wait for it to answer.
func spawn(t testing.TB, port int, args ...string) *server {
	t.Helper()
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.cmd = exec.Command("redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no"}, args...)...)
	s.start(t)
	return s
}

// start runs s.cmd, keeping its output; it does not wait for it to answer.
func (s *server) start(t testing.TB) {
	t.Helper()
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s on %s: %v", filepath.Base(s.cmd.Path), s.addr, err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
}

// await polls ok every 20ms until it holds, failing the test when s exits
// or after startTimeout.
func (c *Cluster) await(s *server, what string, ok func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		done, state := ok()
		if done {
			return
		}
		select {
		case <-s.exited:
			c.fail("redis-server %s exited (%v) before %s: %s", s.addr, s.waitErr, what, state)
		default:
		}
		if time.Now().After(deadline) {
			c.fail("redis-server %s: no %s within %v: %s", s.addr, what, startTimeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fail logs every server's output and fails the test.
func (c *Cluster) fail(format string, args ...any) {
	c.t.Helper()
	for _, s := range c.servers() {
		c.t.Logf("redis-server %s output:\n%s", s.addr, s.out.String())
	}
	c.t.Fatalf(format, args...)
}

// stop kills every server (kill -9) and waits for it.
func (c *Cluster) stop() {
	for _, s := range c.servers() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// servers lists the masters and the replicas that were started.
func (c *Cluster) servers() []*server {
	var out []*server
	for _, s := range append(c.nodes[:], c.replicas[:]...) {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Addrs returns the masters' host:port addresses, shard 0 first.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.addr
	}
	return out
}

// URL names the cluster as pushwire's --redis takes it: every master, comma
// separated (rueidis would find the others from any one of them).
func (c *Cluster) URL() string { return "redis://" + strings.Join(c.Addrs(), ",") }

// KeySlot asks Redis which of the 16384 hash slots key belongs to
// (CLUSTER KEYSLOT, so {hash tags} count as Redis counts them).
func (c *Cluster) KeySlot(key string) int {
	c.t.Helper()
	r, err := Do(c.nodes[0].addr, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		c.t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	n, err := strconv.Atoi(r)
	if err != nil {
		c.t.Fatalf("CLUSTER KEYSLOT %q = %q: %v", key, r, err)
	}
	return n
}

// Shard returns the index (into Addrs) of the master that owns key, as that
// master itself says (the slot ranges on its "myself" line of CLUSTER NODES).
func (c *Cluster) Shard(key string) int {
	c.t.Helper()
	slot := c.KeySlot(key)
	for i, s := range c.nodes {
		owns, err := ownsSlot(s.addr, slot)
		if err != nil {
			c.t.Fatalf("CLUSTER NODES on %s: %v", s.addr, err)
		}
		if owns {
			return i
		}
	}
	c.t.Fatalf("no master owns slot %d (key %q)", slot, key)
	return -1
}

// ownsSlot reports whether the master at addr serves slot, from its own
// line ("myself") of CLUSTER NODES.
func ownsSlot(addr string, slot int) (bool, error) {
	nodes, err := Do(addr, "CLUSTER", "NODES")
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(nodes) {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && l <= slot && slot <= h {
				return true, nil
			}
		}
		return false, nil
	}
	return false, errors.New("no myself line")
}

// OnEachShard returns Shards names, the i-th of which has key(name) owned by
// shard i. Names are base, base+"1", base+"2", … taken in order until every
// shard has one.
func (c *Cluster) OnEachShard(base string, key func(name string) string) []string {
	c.t.Helper()
	out := make([]string, Shards)
	found := 0
	for i := 0; found < Shards; i++ {
		if i > 1000 {
			c.t.Fatalf("OnEachShard(%q): 1000 names do not cover %d shards: %q", base, Shards, out)
		}
		name := base
		if i > 0 {
			name += strconv.Itoa(i)
		}
		if sh := c.Shard(key(name)); out[sh] == "" {
			out[sh] = name
			found++
		}
	}
	return out
}

// CommandCalls returns how many times the masters together ran cmd (lower
// case, as INFO commandstats names it: "get", "smembers").
func (c *Cluster) CommandCalls(cmd string) int {
	c.t.Helper()
	total := 0
	for _, s := range c.nodes {
		n, err := commandCalls(s.addr, cmd)
		if err != nil {
			c.t.Fatalf("INFO commandstats on %s: %v", s.addr, err)
		}
		total += n
	}
	return total
}

// commandCalls is how many times the Redis at addr ran cmd.
func commandCalls(addr, cmd string) (int, error) {
	info, err := Do(addr, "INFO", "commandstats")
	if err != nil {
		return 0, err
	}
	prefix := "cmdstat_" + cmd + ":calls="
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		}
	}
	return 0, nil
}

// KeyCounts returns DBSIZE of each master, shard 0 first.
func (c *Cluster) KeyCounts() []int {
	c.t.Helper()
	out := make([]int, len(c.nodes))
	for i, s := range c.nodes {
		r, err := Do(s.addr, "DBSIZE")
		if err == nil {
			out[i], err = strconv.Atoi(r)
		}
		if err != nil {
			c.t.Fatalf("DBSIZE on %s: %v", s.addr, err)
		}
	}
	return out
}

// Do sends one command to the Redis at addr on a fresh connection and
// returns its reply: a status, a bulk string or an integer as text. A Redis
// error reply (including MOVED when addr does not own the key) is an error;
// a nil bulk string is "" and ErrNil. Array replies are not supported.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", err
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", errors.New(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", fmt.Errorf("redistest: bulk length %q", body)
		}
		if n < 0 {
			return "", ErrNil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	}
	return "", fmt.Errorf("redistest: unsupported reply %q", line)
}

// ErrNil is Do's error for a nil reply (GET of a missing key).
var ErrNil = errors.New("redistest: nil reply")

// freePorts returns n distinct loopback ports, held for the test (internal/freeport
// says why not port 0).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freeport.Take(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { freeport.Release(ports...) })
	return ports
}

// lockedBuffer is a bytes.Buffer that a process writes while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
