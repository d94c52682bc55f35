package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushwire/pushwire/acceptance/internal/promscrape"
)

// scrape reads n's /metrics with Prometheus's own text parser.
func (n *node) scrape() promscrape.Families { return promscrape.Scrape(n.t, n.client, n.api) }

// TestMetricsClusterHistogramsMove: pushes published on node b for a
// subscriber on node a move b's link round-trip and queue histograms, its
// Redis latency (directory lookups, the QoS 1 store) and cache counters,
// and a's fan-out and delivery-delay histograms, each by what was done.
func TestMetricsClusterHistogramsMove(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, 15*time.Second)
	a, b := c.nodes[0], c.nodes[1]
	aStart := a.scrape()
	s := a.subscribe("user=mu&topic=mt")
	defer s.conn.Close()
	b.waitDelivered("user/mu", 1, 1, 10*time.Second)
	b.waitDelivered("topic/mt", 1, 1, 10*time.Second)
	// a wrote the registrations to Redis (b found them): its directory's
	// Redis requests were timed.
	waitUntil(t, 10*time.Second, "a's directory Redis requests observed", func() (bool, string) {
		n := a.scrape().Count("pushwire_redis_request_seconds", "client", "directory")
		return n > aStart.Count("pushwire_redis_request_seconds", "client", "directory"), fmt.Sprintf("count %d", n)
	})

	aBefore, bBefore := a.scrape(), b.scrape()
	const each = 10
	for i := 0; i < each; i++ {
		b.mustPub("user/mu", fmt.Sprint(i), 1, 1)
		b.mustPub("topic/mt", fmt.Sprint(i), 1, 1)
	}
	b.mustPub("user/mu", "q", 1, 1, "Push-QoS", "1") // stored in Redis first
	for i := 0; i < 2*each+1; i++ {
		s.message()
	}
	aAfter, bAfter := a.scrape(), b.scrape()
	const pushes = 2*each + 1

	for _, h := range []string{"pushwire_link_round_trip_seconds", "pushwire_link_queue_requests", "pushwire_publish_seconds"} {
		if d := bAfter.CountSince(bBefore, h); d != pushes {
			t.Errorf("node b %s count moved %d; want %d (one per forwarded publish)", h, d, pushes)
		}
	}
	if d := bAfter.CountSince(bBefore, "pushwire_redis_request_seconds", "client", "store"); d == 0 {
		t.Errorf("node b: the QoS 1 publish stored in Redis moved no pushwire_redis_request_seconds{client=\"store\"}")
	}
	if n := bAfter.Count("pushwire_redis_request_seconds", "client", "directory"); n == 0 {
		t.Errorf("node b looked up a user and a topic in Redis; pushwire_redis_request_seconds{client=\"directory\"} count 0")
	}
	hits := bAfter.ValueSince(bBefore, "pushwire_directory_cache_hits_total")
	misses, _ := bAfter.Value("pushwire_directory_cache_misses_total")
	if hits < pushes || misses == 0 {
		t.Errorf("node b directory cache: hits moved %v (want at least %d: every repeated lookup), misses %v (want > 0: the first ones)", hits, pushes, misses)
	}
	if ok := bAfter.ValueSince(bBefore, "pushwire_publishes_total", "code", "200"); ok != pushes {
		t.Errorf(`node b pushwire_publishes_total{code="200"} moved %v; want %d (routed answers count too)`, ok, pushes)
	}
	if d := aAfter.CountSince(aBefore, "pushwire_fanout_connections"); d != pushes {
		t.Errorf("node a pushwire_fanout_connections count moved %d; want %d (one per push taken from b)", d, pushes)
	}
	if d := aAfter.CountSince(aBefore, "pushwire_delivery_delay_seconds"); d != pushes {
		t.Errorf("node a pushwire_delivery_delay_seconds count moved %d; want %d (one subscriber: one per message)", d, pushes)
	}
	noRedisTrouble(t, a, b)
}
