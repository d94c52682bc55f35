package server

import (
	"bytes"
	"runtime"
	"strconv"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// metrics is what /metrics shows beyond the /stats figures: histograms and
// counters measured as things happen, on VictoriaMetrics/metrics. Chosen over
// prometheus/client_golang by metrics_lib_bench_test.go: its histogram update
// costs about half as much alone and a third as much from both cores at once
// (a short mutex beats client_golang's contended atomics on this machine),
// counters tie, neither allocates. Its PrometheusHistogram writes standard
// "le" buckets, so any Prometheus scraper reads them.
//
// The /stats figures themselves are written at scrape time from one snapshot
// (appendFigures), with their help text: the library has no counter read
// from a function, and its own metadata carries no help.
type metrics struct {
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

func newMetrics(loops int) *metrics {
	// TYPE lines are what make "_bucket" series a histogram to a scraper;
	// the library only writes them when told, process-wide.
	vm.ExposeMetadata(true)
	set := vm.NewSet()
	hist := func(name string, bounds []float64) *vm.PrometheusHistogram {
		return set.NewPrometheusHistogramExt(name, bounds)
	}
	m := &metrics{
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
	info := `pushwire_build_info{version="` + Version() + `",goversion="` + runtime.Version() + `"}`
	set.NewGauge(info, func() float64 { return 1 })
	return m
}

// countStatus counts one publish, or one batch line, answered with code.
func (m *metrics) countStatus(code int) {
	if code >= 0 && code < len(m.byCode) && m.byCode[code] != nil {
		m.byCode[code].Inc()
		return
	}
	m.otherCode.Inc()
}

// countResults counts the lines of a batch, or a routed publish's answer.
func (m *metrics) countResults(results []pushResult) {
	for i := range results {
		m.countStatus(results[i].status)
	}
}

// observeFanOut records how many local connections a message was handed to.
func (m *metrics) observeFanOut(n int) { m.fanOut.Update(float64(n)) }

// observeDelay records m's delivery delay on this loop, once per message:
// the first subscriber it is written to here stands for the rest, which
// follow in the same loop iteration and are flushed with it.
func (ls *loopState) observeDelay(m *message) {
	lm := &ls.s.metrics.loops[ls.index]
	if lm.delaySeq == m.Seq {
		return
	}
	lm.delaySeq = m.Seq
	if !m.born.IsZero() {
		ls.s.metrics.deliveryDelay.Update(time.Since(m.born).Seconds())
	}
}

// publishServed runs after serveAPI handled a request for path: for a
// publish it records the handling time and the answer's status, or, when the
// answer is made off the loop, when the request was read (publishAnswered
// finishes it). A batch answered 200 here had its lines counted already.
func (ls *loopState) publishServed(l *engine.Loop, h engine.Handle, path []byte) {
	if !bytes.HasPrefix(path, []byte("/pub")) {
		return
	}
	m := ls.s.metrics
	if ls.pipedRouted { // timed and counted when answered (pipeline.go, answerRouted)
		ls.pipedRouted = false
		return
	}
	if c := ls.live(h); c != nil && c.mode == modeAsync {
		m.loops[ls.index].routed[h] = l.Now()
		return
	}
	m.publishSeconds.Update(time.Since(l.Now()).Seconds())
	code := statusOf(ls.out)
	if string(path) != "/pub" || code != 200 {
		m.countStatus(code)
	}
}

// publishAnswered runs when an answer made off the loop is written to h:
// for a publish it records the handling time (the status was counted by
// answerRouted).
func (ls *loopState) publishAnswered(h engine.Handle) {
	lm := &ls.s.metrics.loops[ls.index]
	if read, ok := lm.routed[h]; ok {
		delete(lm.routed, h)
		ls.s.metrics.publishSeconds.Update(time.Since(read).Seconds())
	}
}

// statusOf reads the status code of an HTTP/1.1 answer's status line.
func statusOf(answer []byte) int {
	if len(answer) < 12 {
		return 0
	}
	code, err := strconv.Atoi(string(answer[9:12]))
	if err != nil {
		return 0
	}
	return code
}

// clusterObserver hands the cluster package's timings to the histograms;
// redis is the client's own (directory or store).
type clusterObserver struct {
	m     *metrics
	redis *vm.PrometheusHistogram
}

func (o clusterObserver) LinkRoundTrip(d time.Duration) { o.m.linkRTT.Update(d.Seconds()) }
func (o clusterObserver) LinkQueued(n int)              { o.m.linkQueue.Update(float64(n)) }
func (o clusterObserver) RedisCommand(d time.Duration)  { o.redis.Update(d.Seconds()) }

func (m *metrics) directoryObserver() clusterObserver { return clusterObserver{m, m.redisDirectory} }
func (m *metrics) storeObserver() clusterObserver     { return clusterObserver{m, m.redisStore} }
func (m *metrics) linkObserver() clusterObserver      { return clusterObserver{m: m} }

// serveMetrics answers GET /metrics in a goroutine: reading the process's
// figures walks /proc (its open descriptors: one per connection), which an
// event loop must not wait for.
func (ls *loopState) serveMetrics(h engine.Handle, c *connState, req *httpcodec.Request) {
	// asyncPprof: the kind of call answered from a goroutine.
	call := &asyncCall{from: h, kind: asyncPprof, keepAlive: persistence(req), head: isHead(req)}
	c.mode = modeAsync
	s := ls.s
	go func() {
		body := s.writeMetrics(nil)
		dst := appendResponseHead(nil, 200, call.keepAlive)
		call.reply = appendBody(dst, "text/plain; version=0.0.4; charset=utf-8", body)
		s.eng.Submit(h.Loop(), engine.Task{H: h, Op: opAsyncReply, V: call})
	}()
}

// writeMetrics appends the whole exposition: the /stats figures, what the
// metrics measured, and the Go runtime and process collectors.
func (s *Server) writeMetrics(dst []byte) []byte {
	w := bytes.NewBuffer(s.appendFigures(dst))
	s.metrics.set.WritePrometheus(w)
	vm.WriteProcessMetrics(w) // go_* (runtime/metrics, GC) and process_* (CPU, memory, I/O)
	vm.WriteFDMetrics(w)      // process_open_fds, process_max_fds
	return w.Bytes()
}
