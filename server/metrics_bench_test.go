package server

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
	m := newMetrics(1)
	read := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.observeFanOut(3)
		m.deliveryDelay.Update(time.Since(read).Seconds())
		m.publishSeconds.Update(time.Since(read).Seconds())
		m.countStatus(200)
	}
}

func TestStatusOf(t *testing.T) {
	for answer, want := range map[string]int{
		"HTTP/1.1 200 OK\r\n":                  200,
		"HTTP/1.1 503 Service Unavailable\r\n": 503,
		"HTTP/1.1 2x0":                         0,
		"HTTP/1.1":                             0,
	} {
		if got := statusOf([]byte(answer)); got != want {
			t.Errorf("statusOf(%q) = %d; want %d", answer, got, want)
		}
	}
	m := newMetrics(1)
	m.countStatus(200)
	m.countStatus(299) // no counter of its own
	m.countStatus(-1)
	if got := m.byCode[200].Get(); got != 1 {
		t.Errorf(`publishes_total{code="200"} = %d; want 1`, got)
	}
	if got := m.otherCode.Get(); got != 2 {
		t.Errorf(`publishes_total{code="other"} = %d; want 2`, got)
	}
}
