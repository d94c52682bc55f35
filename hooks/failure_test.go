package hooks_test

import (
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// checkSequence fails unless lines are users "0".."n-1", each once, in order.
func checkSequence(t *testing.T, lines [][]byte, n int) {
	t.Helper()
	if len(lines) != n {
		t.Fatalf("hook got %d lines; want %d", len(lines), n)
	}
	for i, line := range lines {
		if u := deref(decode(t, line).User); u != strconv.Itoa(i) {
			t.Fatalf("line %d has user %q; want %d (lost, duplicated or reordered)", i, u, i)
		}
	}
}

func connectN(s *hooks.Sender, from, to int) {
	for i := from; i < to; i++ {
		s.Connect([]byte("k"), []byte(strconv.Itoa(i)), "n1", time.Now())
	}
}

// TestRetryAfter500: while the hook answers 500 events keep queueing and the failing batch is
// retried with backoff; once it answers 2xx everything arrives once, in order. Every failed
// attempt is logged once, with the URL and the cause.
func TestRetryAfter500(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	h.status.Store(http.StatusInternalServerError)
	var logs lockedBuffer
	s := start(t, hooks.Options{URL: h.url(), MaxBatch: 40, Interval: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	connectN(s, 0, 100)
	waitFor(t, "two failed attempts", func() bool { return s.Stats().Failed >= 2 })
	connectN(s, 100, 300) // queued behind the failing batch
	h.status.Store(0)
	waitFor(t, "300 events sent", func() bool { return s.Stats().Sent == 300 })

	lines, _ := h.received()
	checkSequence(t, lines, 300)
	st := s.Stats()
	if st.Dropped != 0 || st.Queued != 0 || st.Failed < 2 {
		t.Errorf("Stats = %+v; want Failed >= 2, nothing dropped or queued", st)
	}
	out := logs.String()
	if n := strings.Count(out, "hook: POST failed"); uint64(n) != st.Failed {
		t.Errorf("%d failure log lines for %d failed attempts; want one each:\n%s", n, st.Failed, out)
	}
	if !strings.Contains(out, h.url()) || !strings.Contains(out, "answered 500") {
		t.Errorf("failure logs name neither the URL %s nor the cause:\n%s", h.url(), out)
	}
	if !strings.Contains(out, "hook: POSTs accepted again") {
		t.Errorf("no recovery log line:\n%s", out)
	}
}

// TestRetryWhileRefused: a hook whose port refuses connections, then listens on it: the events
// queued meanwhile all arrive, in order.
func TestRetryWhileRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	h := &hook{t: t, hang: time.Minute}
	s := start(t, hooks.Options{URL: "http://" + addr + "/hook", Interval: 5 * time.Millisecond})
	connectN(s, 0, 200)
	waitFor(t, "a failed attempt", func() bool { return s.Stats().Failed >= 1 })

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s (freed above): %v", addr, err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.Listener.Close()
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)

	waitFor(t, "200 events sent", func() bool { return s.Stats().Sent == 200 })
	lines, _ := h.received()
	checkSequence(t, lines, 200)
	if st := s.Stats(); st.Dropped != 0 || st.Failed < 1 {
		t.Errorf("Stats = %+v; want Failed >= 1, Dropped 0", st)
	}
}

// TestSlowHookIsFailure: a POST not answered within Timeout fails and is retried; the batch is
// then accepted on a later attempt.
//
// Timeout is 1 s, not less: the POSTs that hang do so until the sender gives up, whatever it
// is, but the ones answered at once must be answered within it. At 100 ms a loaded machine
// (load 10-12 on 2 cores) timed some of those out too, and each extra failure doubled the
// backoff, up to 5 s, past waitFor's 10 s.
func TestSlowHookIsFailure(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	h.slow.Store(2) // the first two POSTs hang (past Timeout) and are not recorded
	var logs lockedBuffer
	s := start(t, hooks.Options{URL: h.url(), Timeout: time.Second,
		Interval: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	connectN(s, 0, 50)
	waitFor(t, "50 events sent", func() bool { return s.Stats().Sent == 50 })
	lines, _ := h.received()
	checkSequence(t, lines, 50)
	if st := s.Stats(); st.Failed < 2 || st.Dropped != 0 {
		t.Errorf("Stats = %+v; want Failed >= 2 (two timeouts), Dropped 0", st)
	}
	if !strings.Contains(logs.String(), "timeout") {
		t.Errorf("failure logs do not name the timeout:\n%s", logs.String())
	}
}

// TestBoundedQueue: with Queue 100 and the hook failing, 1,000 Connect calls all return,
// 100 events stay queued and exactly the 900 past them are dropped; the 100 kept (the oldest)
// arrive once the hook recovers.
func TestBoundedQueue(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	h.status.Store(http.StatusServiceUnavailable)
	s := start(t, hooks.Options{URL: h.url(), Queue: 100, Interval: time.Millisecond})

	returns(t, "1,000 Connect calls while the hook fails", func() { connectN(s, 0, 1000) })
	if st := s.Stats(); st.Queued != 100 || st.Dropped != 900 || st.Sent != 0 {
		t.Fatalf("Stats = %+v; want Queued 100, Dropped 900, Sent 0", st)
	}
	waitFor(t, "a failed attempt", func() bool { return s.Stats().Failed >= 1 })
	h.status.Store(0)
	waitFor(t, "100 events sent", func() bool { return s.Stats().Sent == 100 })
	lines, _ := h.received()
	checkSequence(t, lines, 100)
	if st := s.Stats(); st.Queued != 0 || st.Dropped != 900 || st.Sent+st.Dropped != 1000 {
		t.Errorf("Stats = %+v; want Sent 100 + Dropped 900 = 1000, Queued 0", st)
	}
}

// TestHTTPSVerifiesCertificate: an https:// hook is dialled with TLS and its certificate is
// checked: httptest's self-signed one is refused, so every attempt fails and nothing is sent.
func TestHTTPSVerifiesCertificate(t *testing.T) {
	t.Parallel()
	h := &hook{t: t, hang: time.Minute}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	var logs lockedBuffer
	s := start(t, hooks.Options{URL: h.srv.URL + "/hook", Interval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	connectN(s, 0, 5)
	waitFor(t, "a failed attempt", func() bool { return s.Stats().Failed >= 1 })
	if st := s.Stats(); st.Sent != 0 || st.Queued != 5 {
		t.Errorf("Stats = %+v; want nothing sent, 5 queued", st)
	}
	// The failure is counted before it is logged.
	waitFor(t, "a failure log naming the certificate", func() bool { return strings.Contains(logs.String(), "certificate") })
	closeWithin(t, s, 100*time.Millisecond) // not the 10 s of start's cleanup: the hook stays down
}
