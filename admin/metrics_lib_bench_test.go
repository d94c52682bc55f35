package admin

// Which metrics library /metrics is built on was decided by these benchmarks
// of the only calls the hot path makes: a counter increment and a histogram
// observation, alone and from every core at once (the event loops run in
// parallel). prometheus/client_golang won on histograms, where it matters (its
// Observe is lock-free; VictoriaMetrics' Histogram and PrometheusHistogram take
// a mutex, so loops observing at once wait on each other), and tied on
// counters; both allocate nothing. Figures in BENCHMARKS.md ("metrics library").
//
//	go test -run '^$' -bench MetricsLib -benchmem ./admin/

import (
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// libValues are observations spread over the buckets, as delays in seconds are.
var libValues = [8]float64{0.00002, 0.0001, 0.0004, 0.0015, 0.003, 0.012, 0.05, 0.3}

func BenchmarkMetricsLibCounter(b *testing.B) {
	prom := prometheus.NewCounter(prometheus.CounterOpts{Name: "c"})
	vmc := vm.NewSet().NewCounter("c")
	b.Run("prometheus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			prom.Inc()
		}
	})
	b.Run("victoriametrics", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vmc.Inc()
		}
	})
	b.Run("prometheus/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				prom.Inc()
			}
		})
	})
	b.Run("victoriametrics/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				vmc.Inc()
			}
		})
	})
}

func BenchmarkMetricsLibHistogram(b *testing.B) {
	buckets := prometheus.ExponentialBuckets(0.00001, 4, 10)
	prom := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: buckets})
	set := vm.NewSet()
	vmh := set.NewHistogram("h")
	vmp := set.NewPrometheusHistogramExt("p", buckets)
	run := func(name string, observe func(float64)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				observe(libValues[i&7])
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					observe(libValues[i&7])
					i++
				}
			})
		})
	}
	run("prometheus", prom.Observe)
	run("victoriametrics", vmh.Update)
	run("victoriametrics-prometheus-buckets", vmp.Update)
}
