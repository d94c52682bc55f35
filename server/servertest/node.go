// package servertest starts whole nodes for the in-process tests of the
// packages the assembly puts together (h2edge, upgrade), which cannot import
// server from their internal tests: a node on free loopback ports, a
// publish, a frame read, a raw HTTP/2 client (rawh2.go). Tests only; the
// black-box tests in acceptance/ run the real binary.
package servertest

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/server"
)

// Node starts a node on free loopback ports, its configuration changed by
// mutate if not nil, and closes it at the test's end.
func Node(tb testing.TB, mutate func(*server.Config)) *server.Server {
	tb.Helper()
	s, err := server.New(Config(mutate))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Config is the default configuration with plaintext listeners on free
// loopback ports and a silent logger, changed by mutate if not nil.
func Config(mutate func(*server.Config)) server.Config {
	cfg := server.DefaultConfig()
	cfg.Listen, cfg.APIListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// Pub publishes body to path on s's api and returns the status and the
// answer's "delivered".
func Pub(t *testing.T, s *server.Server, path, body string) (int, int) {
	t.Helper()
	resp, err := http.Post("http://"+s.APIAddr().String()+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a struct{ Delivered int }
	json.Unmarshal(raw, &a)
	return resp.StatusCode, a.Delivered
}

// Frame is the part of an NDJSON frame the tests read.
type Frame struct {
	Protocol int
	State    string
	Conn     string
	To       string
	Data     string
}

// ReadFrame reads one NDJSON frame from r.
func ReadFrame(t *testing.T, r *bufio.Reader) Frame {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	var f Frame
	if err := json.Unmarshal([]byte(line), &f); err != nil {
		t.Fatalf("frame %q: %v", line, err)
	}
	return f
}

// WaitFor polls cond until it holds, or fails the test after 20s.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
