// Package admin holds what the api listener's operations endpoints report:
// the figures of /stats and /metrics (one Snapshot, written as JSON or as
// the Prometheus exposition) and the histograms and counters measured as
// things happen. The glue gathers the snapshot and answers the requests on
// its loops; this package never sees a connection.
package admin

import (
	"bytes"
	"runtime"
	"strconv"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/pushwire/pushwire/engine"
)

// Metrics is what /metrics shows beyond the /stats figures: histograms and
// counters measured as things happen, on VictoriaMetrics/metrics. Chosen over
// prometheus/client_golang by metrics_lib_bench_test.go: its histogram update
// costs about half as much alone and a third as much from both cores at once
// (a short mutex beats client_golang's contended atomics on this machine),
// counters tie, neither allocates. Its PrometheusHistogram writes standard
// "le" buckets, so any Prometheus scraper reads them.
//
// The /stats figures themselves are written at scrape time from one snapshot
// (AppendFigures), with their help text: the library has no counter read
// from a function, and its own metadata carries no help.
type Metrics struct {
	set *vm.Set

	publishSeconds *vm.PrometheusHistogram // a publish request, read to answer queued
	deliveryDelay  *vm.PrometheusHistogram // message created → frame queued on a socket
	fanOut         *vm.PrometheusHistogram // local connections per message
	linkRTT        *vm.PrometheusHistogram // Forward/ForwardBatch queued → answered
	linkQueue      *vm.PrometheusHistogram // a link's requests in flight after a call queued
	redisDirectory *vm.PrometheusHistogram // a Redis request of the directory
	redisStore     *vm.PrometheusHistogram // of the QoS store and idempotency keys
	tlsHandshake   *vm.PrometheusHistogram // a TLS conn accepted → its handshake done (engine)

	byCode    [600]*vm.Counter // publishes answered, by status; nil for codes never answered
	otherCode *vm.Counter

	loops []loopMetrics // one per event loop, touched only by it
}

// loopMetrics is one loop's bookkeeping, padded so that two loops never
// share a cache line.
type loopMetrics struct {
	// delaySeq is the message whose delivery delay this loop observed last:
	// one observation per message per loop, not per subscriber.
	delaySeq uint64
	// routed holds when each publish answered off the loop (routed, keyed)
	// was read, until finishAsync writes its answer.
	routed map[engine.Handle]time.Time
	_      [48]byte
}

// Bucket bounds. Times in seconds, from 10µs (a publish answered on the
// loop that read it) to seconds (a forward waiting out its bound).
var (
	secondsBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
		0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	fanOutBuckets = []float64{0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
		10000, 25000, 50000, 100000, 250000, 1000000}
	queueBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536}
)

// publishCodes are the statuses a publish (or a batch line) is answered
// with; each gets its counter from the start, so a rate over it is defined
// before the first such answer.
var publishCodes = []int{200, 202, 400, 401, 403, 404, 405, 409, 413, 429, 500, 503}

// NewMetrics makes the set of a node with loops event loops.
func NewMetrics(loops int, version string) *Metrics {
	// TYPE lines are what make "_bucket" series a histogram to a scraper;
	// the library only writes them when told, process-wide.
	vm.ExposeMetadata(true)
	set := vm.NewSet()
	hist := func(name string, bounds []float64) *vm.PrometheusHistogram {
		return set.NewPrometheusHistogramExt(name, bounds)
	}
	m := &Metrics{
		set:            set,
		publishSeconds: hist("pushwire_publish_seconds", secondsBuckets),
		deliveryDelay:  hist("pushwire_delivery_delay_seconds", secondsBuckets),
		fanOut:         hist("pushwire_fanout_connections", fanOutBuckets),
		linkRTT:        hist("pushwire_link_round_trip_seconds", secondsBuckets),
		linkQueue:      hist("pushwire_link_queue_requests", queueBuckets),
		redisDirectory: hist(`pushwire_redis_request_seconds{client="directory"}`, secondsBuckets),
		redisStore:     hist(`pushwire_redis_request_seconds{client="store"}`, secondsBuckets),
		tlsHandshake:   hist("pushwire_tls_handshake_seconds", secondsBuckets),
		otherCode:      set.NewCounter(`pushwire_publishes_total{code="other"}`),
		loops:          make([]loopMetrics, loops),
	}
	for _, code := range publishCodes {
		m.byCode[code] = set.NewCounter(`pushwire_publishes_total{code="` + strconv.Itoa(code) + `"}`)
	}
	for i := range m.loops {
		m.loops[i].routed = map[engine.Handle]time.Time{}
	}
	info := `pushwire_build_info{version="` + version + `",goversion="` + runtime.Version() + `"}`
	set.NewGauge(info, func() float64 { return 1 })
	return m
}

// CountStatus counts one publish, or one batch line, answered with code.
func (m *Metrics) CountStatus(code int) {
	if code >= 0 && code < len(m.byCode) && m.byCode[code] != nil {
		m.byCode[code].Inc()
		return
	}
	m.otherCode.Inc()
}

// ObserveFanOut records how many local connections a message was handed to.
func (m *Metrics) ObserveFanOut(n int) { m.fanOut.Update(float64(n)) }

// StatusOf reads the status code of an HTTP/1.1 answer's status line.
func StatusOf(answer []byte) int {
	if len(answer) < 12 {
		return 0
	}
	code, err := strconv.Atoi(string(answer[9:12]))
	if err != nil {
		return 0
	}
	return code
}

// clusterObserver hands the cluster and links packages' timings to the histograms
// (it is a cluster.Observer and a links.Observer);
// redis is the client's own (directory or store).
type clusterObserver struct {
	m     *Metrics
	redis *vm.PrometheusHistogram
}

func (o clusterObserver) LinkRoundTrip(d time.Duration) { o.m.linkRTT.Update(d.Seconds()) }
func (o clusterObserver) LinkQueued(n int)              { o.m.linkQueue.Update(float64(n)) }
func (o clusterObserver) RedisCommand(d time.Duration)  { o.redis.Update(d.Seconds()) }

func (m *Metrics) DirectoryObserver() clusterObserver { return clusterObserver{m, m.redisDirectory} }
func (m *Metrics) StoreObserver() clusterObserver     { return clusterObserver{m, m.redisStore} }
func (m *Metrics) LinkObserver() clusterObserver      { return clusterObserver{m: m} }

// Write appends the whole exposition to figures (the /stats figures,
// AppendFigures): what the metrics measured, and the Go runtime and process
// collectors.
func (m *Metrics) Write(figures []byte) []byte {
	w := bytes.NewBuffer(figures)
	m.set.WritePrometheus(w)
	vm.WriteProcessMetrics(w) // go_* (runtime/metrics, GC) and process_* (CPU, memory, I/O)
	vm.WriteFDMetrics(w)      // process_open_fds, process_max_fds
	return w.Bytes()
}

// ObserveDelay records the delivery delay of message seq, born at born, on
// loop, once per message: the first subscriber it is written to there stands
// for the rest, which follow in the same loop iteration and are flushed with
// it. Only that loop calls it.
func (m *Metrics) ObserveDelay(loop int, seq uint64, born time.Time) {
	lm := &m.loops[loop]
	if lm.delaySeq == seq {
		return
	}
	lm.delaySeq = seq
	if !born.IsZero() {
		m.deliveryDelay.Update(time.Since(born).Seconds())
	}
}

// ObservePublish records how long a publish request took, read to answer.
func (m *Metrics) ObservePublish(read time.Time) {
	m.publishSeconds.Update(time.Since(read).Seconds())
}

// Routed notes when the publish request of h, answered off loop, was read;
// Answered records its time once the answer is written. Only loop calls them.
func (m *Metrics) Routed(loop int, h engine.Handle, read time.Time) {
	m.loops[loop].routed[h] = read
}

// Answered: see Routed.
func (m *Metrics) Answered(loop int, h engine.Handle) {
	lm := &m.loops[loop]
	if read, ok := lm.routed[h]; ok {
		delete(lm.routed, h)
		m.ObservePublish(read)
	}
}

// ObserveTLSHandshake records a TLS connection's accept-to-handshake time.
func (m *Metrics) ObserveTLSHandshake(took time.Duration) { m.tlsHandshake.Update(took.Seconds()) }
