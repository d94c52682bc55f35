package acceptance

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SPEC §6: --hook-url receives batched NDJSON connect/disconnect events of
// streams, retried with backoff, from a bounded queue whose drops count.

type hookEvent struct {
	Type string `json:"type"`
	Conn string `json:"conn"`
	User string `json:"user"`
	Node string `json:"node"`
	Time int64  `json:"time"`
}

// hookService collects the events POSTed to it; it answers 500 while failing.
type hookService struct {
	*httptest.Server
	failing atomic.Bool
	posts   atomic.Int64 // every POST, failed ones included
	mu      sync.Mutex
	events  []hookEvent
	bad     []string // what was wrong with a request, if anything
}

func startHookService(t *testing.T) *hookService {
	h := &hookService{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.posts.Add(1)
		if h.failing.Load() {
			w.WriteHeader(500)
			return
		}
		var got []hookEvent
		var bad []string
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/x-ndjson" {
			bad = append(bad, r.Method+" with Content-Type "+r.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var e hookEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				bad = append(bad, "line "+sc.Text()+": "+err.Error())
				continue
			}
			got = append(got, e)
		}
		h.mu.Lock()
		h.events = append(h.events, got...)
		h.bad = append(h.bad, bad...)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookService) snapshot() ([]hookEvent, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookEvent(nil), h.events...), append([]string(nil), h.bad...)
}

func (h *hookService) waitEvents(t *testing.T, n int) []hookEvent {
	t.Helper()
	var ev []hookEvent
	waitFor(t, 10*time.Second, "hook events", func() bool {
		ev, _ = h.snapshot()
		return len(ev) >= n
	})
	return ev
}

func TestHookConnectDisconnect(t *testing.T) {
	t.Parallel()
	hook := startHookService(t)
	n := startNode(t, "--hook-url", hook.URL+"/events", "--node-id", "hooked", "--poll-timeout", "200ms")
	s := n.subscribe("/sub?user=u1&topic=t")
	s.packet()
	anon := n.subscribe("/sub?topic=t")
	anon.packet()
	// A long-poll is a request, not a held connection: no events.
	if raw, _ := rawExchange(t, n.edge, "GET /sub?format=poll&user=u2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second); statusOf(raw) != 204 {
		t.Errorf("long-poll answered %q; want 204 after --poll-timeout", raw)
	}
	ev := hook.waitEvents(t, 2)
	for i, want := range []hookEvent{{"connect", s.key, "u1", "hooked", 0}, {"connect", anon.key, "", "hooked", 0}} {
		got := ev[i]
		checkUnixMs(t, jsonNumber(got.Time))
		got.Time = 0
		if got != want {
			t.Errorf("event %d = %+v; want %+v", i, got, want)
		}
	}
	s.close()
	ev = hook.waitEvents(t, 3)
	if got := ev[2]; got.Type != "disconnect" || got.Conn != s.key || got.User != "u1" || got.Node != "hooked" {
		t.Errorf("after the stream closed: event %+v; want its disconnect", got)
	}
	time.Sleep(300 * time.Millisecond) // events of the poll would have come by now
	if ev, bad := hook.snapshot(); len(ev) != 3 || len(bad) != 0 {
		t.Errorf("hook got %d events %+v, problems %q; want exactly the 3 of the two streams", len(ev), ev, bad)
	}
	waitFor(t, 10*time.Second, "/stats hook_events_sent to reach 3", func() bool {
		return n.stats()["hook_events_sent"] == 3
	})
}

// A hook that fails gets the events later, in order; past --hook-queue
// events are dropped and counted, never blocking a stream.
func TestHookRetriesAndBoundedQueue(t *testing.T) {
	t.Parallel()
	hook := startHookService(t)
	hook.failing.Store(true)
	n := startNode(t, "--hook-url", hook.URL, "--hook-queue", "4")
	var streams []*stream
	for range 10 {
		s := n.subscribe("/sub?topic=t")
		s.packet() // each stream starts although the hook is down
		streams = append(streams, s)
	}
	waitFor(t, 10*time.Second, "failed POSTs", func() bool { return n.stats()["hook_post_failures"] >= 2 })
	st := n.stats()
	if st["hook_events_dropped"] < 1 || st["hook_events_dropped"]+st["hook_events_queued"] != 10 {
		t.Errorf("/stats with the hook down: dropped %v, queued %v; want the 10 connects split between them, some dropped",
			st["hook_events_dropped"], st["hook_events_queued"])
	}
	kept := int(st["hook_events_queued"])
	hook.failing.Store(false)
	ev := hook.waitEvents(t, kept)
	queuedKeys := map[string]bool{}
	for _, s := range streams {
		queuedKeys[s.key] = true
	}
	for _, e := range ev[:kept] {
		if e.Type != "connect" || !queuedKeys[e.Conn] {
			t.Errorf("event after recovery %+v; want a connect of one of the streams", e)
		}
	}
	// The hook has the queued events before the node reads its answer; until
	// then they still fill the queue (the batch in flight counts), and a
	// disconnect added meanwhile would be dropped. Wait for the count.
	waitFor(t, 10*time.Second, "the node to count the queued events as sent", func() bool {
		return n.stats()["hook_events_sent"] == float64(kept)
	})
	// With the hook well again, each disconnect goes out (one at a time:
	// ten at once would overflow a queue of 4 again).
	for i, s := range streams {
		s.close()
		if e := hook.waitEvents(t, kept+i+1)[kept+i]; e.Type != "disconnect" || e.Conn != s.key {
			t.Errorf("after closing stream %d: event %+v; want its disconnect", i, e)
		}
	}
	// The hook has every event; the node counts the last POST once its
	// answer is read.
	waitFor(t, 10*time.Second, "the node to count the last POST as sent", func() bool {
		return n.stats()["hook_events_sent"] == float64(kept+10)
	})
	if st = n.stats(); st["hook_events_sent"]+st["hook_events_dropped"] != 20 {
		t.Errorf("/stats hook_events_sent %v, dropped %v; want 20 events in all", st["hook_events_sent"], st["hook_events_dropped"])
	}
}

func jsonNumber(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
