package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// TestCloseSendsQueued: Close sends what is queued without waiting for Interval, and drops
// (and counts) events offered after it.
func TestCloseSendsQueued(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	s, err := hooks.New(hooks.Options{URL: h.url(), Interval: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	connectN(s, 0, 500)
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	lines, _ := h.received()
	checkSequence(t, lines, 500)
	s.Connect([]byte("k"), nil, "n1", time.Now())
	if st := s.Stats(); st.Sent != 500 || st.Queued != 0 || st.Dropped != 1 {
		t.Errorf("Stats = %+v; want Sent 500, Queued 0, Dropped 1 (the event after Close)", st)
	}
	if err := closeWithin(t, s, time.Second); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}

// TestCloseGivesUpOnFailingHook: with the hook answering 500, Close returns when its ctx ends
// and counts every unsent event as Dropped.
func TestCloseGivesUpOnFailingHook(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	h.status.Store(http.StatusInternalServerError)
	s, err := hooks.New(hooks.Options{URL: h.url(), Interval: time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	connectN(s, 0, 50)
	waitFor(t, "a failed attempt", func() bool { return s.Stats().Failed >= 1 })
	if err := closeReturns(t, s, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v; want context.DeadlineExceeded", err)
	}
	if st := s.Stats(); st.Sent != 0 || st.Queued != 0 || st.Dropped != 50 {
		t.Errorf("Stats = %+v; want Dropped 50, nothing sent or queued", st)
	}
}

// TestCloseCutsHangingPost: a hook that never answers (Timeout a minute) neither blocks
// callers nor holds Close past its ctx: the POST in flight is cut, and its events and those
// queued behind it count as Dropped.
func TestCloseCutsHangingPost(t *testing.T) {
	t.Parallel()
	h := newHook(t)
	h.slow.Store(1 << 30)
	s, err := hooks.New(hooks.Options{URL: h.url(), Timeout: time.Minute, Interval: time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	connectN(s, 0, 10)
	waitFor(t, "the hook to hold a POST", func() bool { return h.postCount() >= 1 })

	// The sender is stuck in the network: callers still never wait for it.
	returns(t, "1,000 Connect calls while a POST hangs", func() { connectN(s, 10, 1010) })
	if st := s.Stats(); st.Queued != 1010 {
		t.Errorf("Stats = %+v while the POST hangs; want Queued 1010", st)
	}

	if err := closeReturns(t, s, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v; want context.DeadlineExceeded", err)
	}
	if st := s.Stats(); st.Sent != 0 || st.Queued != 0 || st.Dropped != 1010 || st.Failed != 0 {
		t.Errorf("Stats = %+v; want Dropped 1010 (the cut POST is no failed attempt)", st)
	}
}

// closeReturns closes s with a ctx of d and fails the test if Close has not returned 10 s later.
func closeReturns(t *testing.T, s *hooks.Sender, d time.Duration) error {
	t.Helper()
	var err error
	returns(t, fmt.Sprintf("Close with a %v ctx", d), func() { err = closeWithin(t, s, d) })
	return err
}
