package pubclient

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the pushwire executable TestMain builds for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pubclient-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pushwire")
	build := exec.Command("go", "build", "-o", binary, "../cmd/pushwire")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build ./cmd/pushwire:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pwNode is one running pushwire process on free loopback ports.
type pwNode struct {
	cmd       *exec.Cmd
	edge, api string
	mu        sync.Mutex
	logs      strings.Builder
}

var startedLine = regexp.MustCompile(`msg="pushwire started".* edge=(\S+) api=(\S+)`)

// startNode runs pushwire with flags and stops it when the test ends.
func startNode(tb testing.TB, flags ...string) *pwNode {
	tb.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--cluster-listen", "127.0.0.1:0"}, flags...)
	n := &pwNode{cmd: exec.Command(binary, args...)}
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	found := make(chan []string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.mu.Lock()
			n.logs.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
			if m := startedLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m:
				default:
				}
			}
		}
		n.cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		n.cmd.Process.Kill()
		<-exited
		if tb.Failed() {
			n.mu.Lock()
			tb.Logf("pushwire %v:\n%s", args, n.logs.String())
			n.mu.Unlock()
		}
	})
	select {
	case m := <-found:
		n.edge, n.api = m[1], m[2]
	case <-exited:
		tb.Fatalf("pushwire %v exited before it started:\n%s", args, n.logs.String())
	case <-time.After(10 * time.Second):
		tb.Fatalf("pushwire %v did not start within 10s", args)
	}
	return n
}

// subscriber is one held ndjson stream.
type subscriber struct {
	conn net.Conn
	rd   *bufio.Reader
}

// subscribe opens GET /sub?<query> on the edge and reads through the
// registered frame.
func (n *pwNode) subscribe(tb testing.TB, query string) *subscriber {
	tb.Helper()
	c, err := net.DialTimeout("tcp", n.edge, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /sub?%s HTTP/1.0\r\nHost: x\r\n\r\n", query)
	s := &subscriber{conn: c, rd: bufio.NewReader(c)}
	for {
		line := s.line(tb)
		if strings.Contains(line, `"state":"registered"`) {
			return s
		}
	}
}

// line reads one line of the stream (HTTP/1.0: not chunked).
func (s *subscriber) line(tb testing.TB) string {
	tb.Helper()
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := s.rd.ReadString('\n')
	if err != nil {
		tb.Fatalf("read stream: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// message reads lines until a message frame and returns it.
func (s *subscriber) message(tb testing.TB) string {
	tb.Helper()
	for {
		if l := s.line(tb); strings.Contains(l, `"protocol":2`) {
			return l
		}
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
