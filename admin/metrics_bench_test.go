package admin

import (
	"testing"
	"time"
)

// BenchmarkMetricsPerMessage is what /metrics adds to one published
// message on the path BenchmarkPush* measure end to end: its fan-out, its
// delivery delay on the one loop that writes it, the publish request's time
// and its status: two clock reads (the message's birth is the loop's time
// of the read, already taken) and three histogram updates. Each further
// subscriber on a loop adds one compare (observeDelay), nothing here.
func BenchmarkMetricsPerMessage(b *testing.B) {
	m := NewMetrics(1, "test")
	read := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveFanOut(3)
		m.deliveryDelay.Update(time.Since(read).Seconds())
		m.publishSeconds.Update(time.Since(read).Seconds())
		m.CountStatus(200)
	}
}

func TestStatusOf(t *testing.T) {
	for answer, want := range map[string]int{
		"HTTP/1.1 200 OK\r\n":                  200,
		"HTTP/1.1 503 Service Unavailable\r\n": 503,
		"HTTP/1.1 2x0":                         0,
		"HTTP/1.1":                             0,
	} {
		if got := StatusOf([]byte(answer)); got != want {
			t.Errorf("StatusOf(%q) = %d; want %d", answer, got, want)
		}
	}
	m := NewMetrics(1, "test")
	m.CountStatus(200)
	m.CountStatus(299) // no counter of its own
	m.CountStatus(-1)
	if got := m.byCode[200].Get(); got != 1 {
		t.Errorf(`publishes_total{code="200"} = %d; want 1`, got)
	}
	if got := m.otherCode.Get(); got != 2 {
		t.Errorf(`publishes_total{code="other"} = %d; want 2`, got)
	}
}
