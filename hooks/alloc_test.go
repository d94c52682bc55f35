package hooks

import (
	"testing"
	"time"
)

// TestConnectAllocs: once the callers' buffer has room, queueing an event allocates nothing.
// The sender goroutine is not started, so that only the callers' path is counted (its POSTs
// allocate in fasthttp and net/http, which AllocsPerRun would count too); BenchmarkConnect
// measures the same path with the sender and a hook running.
func TestConnectAllocs(t *testing.T) {
	s := unstarted(1 << 20)
	conn, user := []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), []byte("user-42")
	node := "node-with-a-name-longer-than-32-bytes" // longer than the compiler's stack copy
	at := time.Now()
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Connect", func() { s.Connect(conn, user, node, at) }},
		{"Disconnect", func() { s.Disconnect(conn, nil, node, at) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per event; want 0", tc.name, n)
		}
	}
	// AllocsPerRun rounds down: a buffer that grew once would still read as 0.
	if cap(s.in) != 1<<20 {
		t.Errorf("callers' buffer grew to %d bytes; want it reused at %d", cap(s.in), 1<<20)
	}
	if s.inN != 2002 {
		t.Errorf("%d events queued; want 2002 (AllocsPerRun runs each 1001 times)", s.inN)
	}
}

// unstarted returns a Sender with default options, a callers' buffer of capacity bytes, and no
// sender goroutine: only the callers' path runs.
func unstarted(capacity int) *Sender {
	o := Options{URL: "http://127.0.0.1:1/hook"}
	o.fill()
	return &Sender{o: o, wake: make(chan struct{}, 1), in: make([]byte, 0, capacity)}
}

// BenchmarkEnqueue: the callers' path alone (lock, encode, append, wake-up), every event
// queued, none dropped: the buffer is emptied every 8,192 events, as the sender's take would.
// BenchmarkConnect runs the same path beside a sender and a hook.
func BenchmarkEnqueue(b *testing.B) {
	s := unstarted(1 << 20)
	conn, user := []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), []byte("user-42")
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Connect(conn, user, "n1", at)
		if s.inN == 8192 {
			s.in, s.inN, s.queued = s.in[:0], 0, 0
			<-s.wake
		}
	}
}
