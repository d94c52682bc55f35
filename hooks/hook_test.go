package hooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// hook is a real HTTP hook on 127.0.0.1 (net/http/httptest): it records the lines of every
// POST it accepts and answers as the test tells it.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	status atomic.Int32 // the answer to give; 0 = 204
	slow   atomic.Int32 // this many more POSTs are answered only after hang (and not recorded)
	hang   time.Duration

	mu      sync.Mutex
	posts   int      // POSTs seen, accepted or not
	lines   [][]byte // lines of accepted POSTs, in arrival order
	batches []int    // lines per accepted POST
	types   []string // Content-Type of every POST
	methods []string
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{t: t, hang: time.Minute}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + "/hook" }

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	h.mu.Lock()
	h.posts++
	h.types = append(h.types, r.Header.Get("Content-Type"))
	h.methods = append(h.methods, r.Method)
	h.mu.Unlock()
	if err != nil {
		return
	}
	if h.slow.Add(-1) >= 0 {
		select {
		case <-time.After(h.hang):
		case <-r.Context().Done(): // the sender gave up on us, or the test ended
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status := int(h.status.Load())
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	h.mu.Lock()
	n := 0
	for line := range bytes.Lines(body) {
		h.lines = append(h.lines, line)
		n++
	}
	h.batches = append(h.batches, n)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// received returns copies of what the hook has accepted so far.
func (h *hook) received() (lines [][]byte, batches []int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.lines...), append([]int(nil), h.batches...)
}

func (h *hook) postCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.posts
}

// event is one decoded hook line; User is nil when the line has no "user".
type event struct {
	Type string  `json:"type"`
	Conn string  `json:"conn"`
	User *string `json:"user"`
	Node string  `json:"node"`
	Time int64   `json:"time"`
}

// decode parses one line strictly: valid JSON, no field beyond the five, one object per line.
func decode(t *testing.T, line []byte) event {
	t.Helper()
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line %q: want exactly one '\\n', at its end", line)
	}
	var e event
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return e
}

// waitFor polls cond for up to 10 s: only delivery waits depend on time, and generously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockedBuffer collects log output written from the sender goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// start returns a Sender for o and closes it (with a generous ctx) when the test ends.
func start(t *testing.T, o hooks.Options) *hooks.Sender {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	s, err := hooks.New(o)
	if err != nil {
		t.Fatalf("New(%q) = %v", o.URL, err)
	}
	t.Cleanup(func() { closeWithin(t, s, 10*time.Second) })
	return s
}

// closeWithin closes s with a ctx of d and returns Close's error.
func closeWithin(t testing.TB, s *hooks.Sender, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Close(ctx)
}

// returns runs f and fails the test if f has not returned within 10 s: what must never block
// is checked with a generous bound, never a tight one. f's results are only read after it
// returned.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not returned after 10s", what)
	}
}
