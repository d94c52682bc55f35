// package nodetest holds what the in-process tests of a whole node share: its
// configuration on free loopback ports, starting it, a publish, a frame read, a
// raw HTTP/2 client (rawh2.go). It imports no glue above edge, so server's own
// tests use it as well as those of the packages server assembles (h2edge,
// upgrade), which start a node through server.New. Tests only; the black-box
// tests in acceptance/ run the real binary.
package nodetest

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/edge"
)

// Config is the default configuration (server.Config is edge.Config) with
// plaintext listeners on free loopback ports and a silent logger, changed by
// mutate if not nil.
func Config(mutate func(*edge.Config)) edge.Config {
	cfg := edge.DefaultConfig()
	cfg.Listen, cfg.APIListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// Node is what Started starts: a server.Server.
type Node interface {
	Start() error
	Close()
}

// Started starts s, which New returned with err, and closes it at the test's
// end: testNode(tb, mutate) is Started(tb, server.New(Config(mutate))).
func Started[N Node](tb testing.TB, s N, err error) N {
	tb.Helper()
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Pub publishes body to path on the api listening at api and returns the
// status and the answer's "delivered".
func Pub(t *testing.T, api net.Addr, path, body string) (int, int) {
	t.Helper()
	resp, err := http.Post("http://"+api.String()+path, "text/plain", strings.NewReader(body))
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
