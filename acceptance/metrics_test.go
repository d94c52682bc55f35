package acceptance

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/acceptance/internal/promscrape"
)

// scrape reads /metrics with Prometheus's own parser.
func (n *node) scrape() promscrape.Families { return promscrape.Scrape(n.t, n.client, n.api) }

// TestMetricsParseAndCollectors: the whole exposition parses with
// Prometheus's text parser, with the families an operator graphs first.
func TestMetricsParseAndCollectors(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	f := n.scrape()
	for name, typ := range map[string]string{
		"pushwire_connections":                "gauge",
		"pushwire_messages_in_total":          "counter",
		"pushwire_tls_handshakes_total":       "counter",
		"pushwire_publish_seconds":            "histogram",
		"pushwire_delivery_delay_seconds":     "histogram",
		"pushwire_fanout_connections":         "histogram",
		"pushwire_link_round_trip_seconds":    "histogram",
		"pushwire_link_queue_requests":        "histogram",
		"pushwire_redis_request_seconds":      "histogram",
		"pushwire_publishes_total":            "counter",
		"pushwire_build_info":                 "gauge",
		"go_goroutines":                       "gauge",
		"go_gc_duration_seconds":              "summary",
		"go_memstats_heap_inuse_bytes":        "gauge",
		"process_resident_memory_bytes":       "gauge",
		"process_cpu_seconds_total":           "counter",
		"process_open_fds":                    "gauge",
		"process_max_fds":                     "gauge",
		"pushwire_directory_cache_hits_total": "counter",
	} {
		if got := f.Type(name); got != typ {
			t.Errorf("/metrics family %s has type %q; want %q", name, got, typ)
		}
	}
	if v, ok := f.Value("pushwire_build_info", "version", "dev", "goversion", runtime.Version()); !ok || v != 1 {
		t.Errorf(`pushwire_build_info{version="dev",goversion=%q} = %v, %v; want 1`, runtime.Version(), v, ok)
	}
	if v, _ := f.Value("process_open_fds"); v < 3 {
		t.Errorf("process_open_fds = %v; a listening node holds more", v)
	}
}

// TestMetricsHistogramsMove drives publishes and subscribers and checks
// that each histogram and status counter moved by what was done.
func TestMetricsHistogramsMove(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	var subs []*stream
	for i := 0; i < 3; i++ {
		s := n.subscribe(fmt.Sprintf("/sub?topic=mt&user=mu%d", i))
		defer s.close()
		subs = append(subs, s)
	}
	before := n.scrape()

	const topicPubs = 20
	for i := 0; i < topicPubs; i++ {
		n.mustPub(200, "topic/mt", fmt.Sprint(i))
	}
	for i := 0; i < 5; i++ {
		n.mustPub(404, "user/nobody", "x")
	}
	if r := n.pub("topic/mt", "x", "Push-QoS", "7"); r.status != 400 {
		t.Fatalf("Push-QoS: 7 = %d; want 400", r.status)
	}
	batch := n.do("POST", "/pub", `{"to":"topic:mt","data":1}`+"\n"+`{"to":"user:nobody","data":2}`+"\n")
	if batch.status != 200 || strings.Count(string(batch.body), "\n") != 2 {
		t.Fatalf("batch = %d %q", batch.status, batch.body)
	}
	for _, s := range subs {
		for i := 0; i < topicPubs+1; i++ {
			s.packet()
		}
	}
	after := n.scrape()

	// Every publish request (27) is timed once; every message published (a
	// 400 makes none: 20 + 5 + 2 lines) has its fan-out observed.
	if d := after.CountSince(before, "pushwire_publish_seconds"); d != topicPubs+5+1+1 {
		t.Errorf("pushwire_publish_seconds count moved %d; want %d (one per publish request)", d, topicPubs+7)
	}
	if d := after.CountSince(before, "pushwire_fanout_connections"); d != topicPubs+5+2 {
		t.Errorf("pushwire_fanout_connections count moved %d; want %d (one per message)", d, topicPubs+7)
	}
	// The 21 topic messages reached 3 connections: the (2, 5] bucket; the 6
	// to nobody reached none: the (-Inf, 0] one.
	hb, ha := before.Histogram("pushwire_fanout_connections"), after.Histogram("pushwire_fanout_connections")
	if d := promscrape.Between(ha, 2, 5) - promscrape.Between(hb, 2, 5); d != topicPubs+1 {
		t.Errorf("fan-out (2,5] moved %d; want %d", d, topicPubs+1)
	}
	if d := ha.GetSampleSum() - hb.GetSampleSum(); d != 3*(topicPubs+1) {
		t.Errorf("fan-out sum moved %v; want %d connections", d, 3*(topicPubs+1))
	}
	// The delivery delay is observed once per message per event loop that
	// wrote it, not per subscriber: 21 messages, 3 subscribers, at most 2
	// loops here (GOMAXPROCS on this machine's 2 cores).
	loops := n.stats()["loops"]
	if d := after.CountSince(before, "pushwire_delivery_delay_seconds"); d < topicPubs+1 || float64(d) > loops*(topicPubs+1) {
		t.Errorf("pushwire_delivery_delay_seconds count moved %d; want %d..%v (per message and loop, not per socket)", d, topicPubs+1, loops*(topicPubs+1))
	}
	for code, want := range map[string]float64{"200": topicPubs + 1, "404": 5 + 1, "400": 1, "503": 0} {
		if got := after.ValueSince(before, "pushwire_publishes_total", "code", code); got != want {
			t.Errorf(`pushwire_publishes_total{code=%q} moved %v; want %v`, code, got, want)
		}
	}
}

// TestMetricsPollDelay: a message answered to a waiting long-poll is one
// delivery-delay observation, as a stream write is; publishes that reached
// nobody are none.
func TestMetricsPollDelay(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-timeout", "5s")
	before := n.scrape()
	done := make(chan pollAnswer, 1)
	go func() { done <- n.poll("/sub?topic=mp&format=poll") }()
	waitFor(t, 10*time.Second, "poll not registered", func() bool {
		r := n.pub("topic/mp", "x")
		return r.status == 200 && strings.Contains(string(r.body), `"delivered":1`)
	})
	if a := <-done; a.status != 200 || len(a.msgs) != 1 {
		t.Fatalf("poll = %d %s; want 200 with one message", a.status, a.body)
	}
	if d := n.scrape().CountSince(before, "pushwire_delivery_delay_seconds"); d != 1 {
		t.Errorf("pushwire_delivery_delay_seconds count moved %d; want 1 (the message the poll was answered with)", d)
	}
}

// TestMetricsTLSHandshakeSeconds: each TLS handshake completed on
// --tls-listen is one observation of pushwire_tls_handshake_seconds (accept
// to handshake done), as it is one in pushwire_tls_handshakes_total.
func TestMetricsTLSHandshakeSeconds(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	before := n.scrape()
	const dials = 4
	for i := 0; i < dials; i++ {
		c := n.dialTLS(tlsVersions[i%len(tlsVersions)]) // the handshake is done when it returns
		c.Close()
	}
	var after promscrape.Families
	waitFor(t, 5*time.Second, "the handshakes counted", func() bool {
		after = n.scrape()
		return after.ValueSince(before, "pushwire_tls_handshakes_total") >= dials
	})
	if d := after.CountSince(before, "pushwire_tls_handshake_seconds"); d != dials {
		t.Errorf("pushwire_tls_handshake_seconds observed %d handshakes; want %d (one per handshake)", d, dials)
	}
	if h := after.Histogram("pushwire_tls_handshake_seconds"); h == nil || h.GetSampleSum() <= 0 {
		t.Errorf("pushwire_tls_handshake_seconds sum = %v; want the handshakes' time", h)
	}
}
