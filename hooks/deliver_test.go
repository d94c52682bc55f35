package hooks_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// TestDeliveredLines: the hook gets POSTs of application/x-ndjson whose lines carry exactly the
// event's fields, escaped, with "user" left out when there is none.
func TestDeliveredLines(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	s := start(t, hooks.Options{URL: h.url(), Interval: 10 * time.Millisecond})

	at := time.UnixMilli(1763761234567).Add(999 * time.Microsecond) // sub-ms part is cut
	user := "he said \"hi\" \\ — 日本語 🙂\n\t\x01\u2028"
	s.Connect([]byte("k_ABCdef-123"), []byte(user), "n1", at)
	s.Disconnect([]byte("k_ABCdef-123"), nil, "n1", at.Add(time.Second))
	s.Connect([]byte("k2"), []byte("42"), "node \"two\"", at)

	waitFor(t, "3 lines delivered", func() bool { l, _ := h.received(); return len(l) == 3 })
	lines, _ := h.received()
	want := []event{
		{Type: "connect", Conn: "k_ABCdef-123", User: &user, Node: "n1", Time: 1763761234567},
		{Type: "disconnect", Conn: "k_ABCdef-123", Node: "n1", Time: 1763761235567},
		{Type: "connect", Conn: "k2", User: ptr("42"), Node: "node \"two\"", Time: 1763761234567},
	}
	for i, line := range lines {
		got := decode(t, line)
		if got.Type != want[i].Type || got.Conn != want[i].Conn || got.Node != want[i].Node ||
			got.Time != want[i].Time || !sameUser(got.User, want[i].User) {
			t.Errorf("line %d = %q; want %+v (user %q)", i, line, want[i], deref(want[i].User))
		}
	}
	if strings.Contains(string(lines[1]), `"user"`) {
		t.Errorf("disconnect without user = %q; want no \"user\" field", lines[1])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.types {
		if h.types[i] != "application/x-ndjson" || h.methods[i] != "POST" {
			t.Errorf("request %d: %s with Content-Type %q; want POST, application/x-ndjson", i, h.methods[i], h.types[i])
		}
	}
}

func ptr(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

func sameUser(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// TestOrderAcrossBatches: 20,000 events from 4 goroutines, each numbering its own in "user",
// arrive once each, in each goroutine's order, in POSTs of at most MaxBatch lines.
func TestOrderAcrossBatches(t *testing.T) {
	t.Parallel()
	const goroutines, each, maxBatch = 4, 5000, 100
	h := newHook(t)
	s := start(t, hooks.Options{URL: h.url(), MaxBatch: maxBatch, Interval: 5 * time.Millisecond})

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			conn := []byte(fmt.Sprintf("conn-of-%d", g))
			var user []byte
			for i := range each {
				user = fmt.Appendf(user[:0], "%d-%d", g, i)
				s.Connect(conn, user, "n1", time.Now())
			}
		})
	}
	wg.Wait()
	waitFor(t, "20000 lines delivered", func() bool { l, _ := h.received(); return len(l) >= goroutines*each })

	lines, batches := h.received()
	if len(lines) != goroutines*each {
		t.Fatalf("hook got %d lines; want %d", len(lines), goroutines*each)
	}
	next := make([]int, goroutines)
	for _, line := range lines {
		e := decode(t, line)
		g, i, ok := strings.Cut(deref(e.User), "-")
		gi, err1 := strconv.Atoi(g)
		ii, err2 := strconv.Atoi(i)
		if !ok || err1 != nil || err2 != nil || gi < 0 || gi >= goroutines {
			t.Fatalf("line %q: user is not <goroutine>-<seq>", line)
		}
		if ii != next[gi] {
			t.Fatalf("goroutine %d: got seq %d; want %d (lost, duplicated or reordered)", gi, ii, next[gi])
		}
		next[gi]++
	}
	for i, n := range batches {
		if n < 1 || n > maxBatch {
			t.Errorf("POST %d carried %d lines; want 1..%d", i, n, maxBatch)
		}
	}
	if st := s.Stats(); st.Sent != goroutines*each || st.Dropped != 0 || st.Queued != 0 || st.Failed != 0 {
		t.Errorf("Stats = %+v; want Sent %d, nothing dropped, queued or failed", st, goroutines*each)
	}
	t.Logf("%d lines in %d POSTs", len(lines), len(batches))
}

// TestFullBatchGoesAtOnce: with an Interval that never ends, a POST starts as soon as MaxBatch
// events are queued, carries exactly MaxBatch, and the remainder waits for Close.
func TestFullBatchGoesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	s, err := hooks.New(hooks.Options{URL: h.url(), MaxBatch: 50, Interval: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		s.Connect([]byte("k"), []byte(strconv.Itoa(i)), "n1", time.Now())
	}
	// The hook has a batch before the sender reads the POST's answer and
	// takes its events off the queue, so wait for both (an Interval of an
	// hour means only full batches can have gone).
	waitFor(t, "two full batches delivered and dequeued, 20 events left", func() bool {
		_, b := h.received()
		return len(b) == 2 && s.Stats().Queued == 20
	})
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	lines, batches := h.received()
	if fmt.Sprint(batches) != "[50 50 20]" {
		t.Errorf("POSTs carried %v lines; want [50 50 20]", batches)
	}
	for i, line := range lines {
		if u := deref(decode(t, line).User); u != strconv.Itoa(i) {
			t.Fatalf("line %d has user %q; want %d", i, u, i)
		}
	}
}
