package hooks_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// benchSender returns a Sender POSTing to a real hook that accepts everything. The loop
// offers events far faster than any connect storm (tens of millions a second against
// 10,000+), so the queue fills and part of them are dropped: the dropped/op metric says how
// many. A drop costs less than a queued event, so the figures are reported with it.
func benchSender(b *testing.B) *hooks.Sender {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // net/http reads the body (up to 256 KiB) itself
	}))
	b.Cleanup(srv.Close)
	s, err := hooks.New(hooks.Options{URL: srv.URL, MaxBatch: 10000, Interval: time.Millisecond, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st := s.Stats()
		b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
		closeWithin(b, s, 10*time.Second)
	})
	return s
}

// BenchmarkConnect: one event loop queueing connect events (44-byte conn key, like the server's).
func BenchmarkConnect(b *testing.B) {
	s := benchSender(b)
	conn, user := []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), []byte("user-42")
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Connect(conn, user, "n1", at)
	}
}

// BenchmarkConnectParallel: GOMAXPROCS event loops queueing at once (mu contended).
func BenchmarkConnectParallel(b *testing.B) {
	s := benchSender(b)
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		conn, user := []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), []byte("user-42")
		for pb.Next() {
			s.Connect(conn, user, "n1", at)
		}
	})
}
