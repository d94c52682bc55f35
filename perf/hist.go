package perf

import (
	"math"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency bounds: 1 µs to 60 s at 3 significant digits. Loopback latencies are tens of
// µs and up; anything above a minute is a lost message, not a latency.
const (
	latencyLowestUS  = 1
	latencyHighestUS = 60_000_000
	latencySigFigs   = 3
)

// Latency is an HDR histogram of publish→receipt times, recorded in microseconds.
// Not safe for concurrent use: each worker loop owns one and the parent merges them.
type Latency struct {
	h *hdrhistogram.Histogram
}

// NewLatency returns an empty histogram.
func NewLatency() *Latency {
	return &Latency{h: hdrhistogram.New(latencyLowestUS, latencyHighestUS, latencySigFigs)}
}

// RecordNanos records one latency given in nanoseconds; values outside the range are
// clamped so that a late message still counts instead of vanishing.
func (l *Latency) RecordNanos(ns int64) {
	us := ns / 1000
	us = max(us, latencyLowestUS)
	us = min(us, latencyHighestUS)
	_ = l.h.RecordValue(us) // in range after clamping
}

// Count is the number of recorded values.
func (l *Latency) Count() int64 { return l.h.TotalCount() }

// Merge adds every value of o into l.
func (l *Latency) Merge(o *Latency) { l.h.Merge(o.h) }

// Reset empties l, keeping its memory.
func (l *Latency) Reset() { l.h.Reset() }

// LatencySummary is what reports print, in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary computes the percentiles; an empty histogram gives all zeros.
func (l *Latency) Summary() LatencySummary {
	if l.h.TotalCount() == 0 {
		return LatencySummary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return LatencySummary{
		Count: l.h.TotalCount(),
		Mean:  l.h.Mean() / 1000,
		P50:   ms(l.h.ValueAtQuantile(50)),
		P90:   ms(l.h.ValueAtQuantile(90)),
		P99:   ms(l.h.ValueAtQuantile(99)),
		P999:  ms(l.h.ValueAtQuantile(99.9)),
		Max:   ms(l.h.Max()),
	}
}

// CDFPoint is one step of the cumulative distribution: Fraction of values ≤ Millis.
type CDFPoint struct {
	Millis   float64
	Fraction float64
}

// CDF returns the cumulative distribution over the histogram's non-empty buckets.
func (l *Latency) CDF() []CDFPoint {
	total := l.h.TotalCount()
	if total == 0 {
		return nil
	}
	var out []CDFPoint
	var seen int64
	for _, b := range l.h.Distribution() {
		if b.Count == 0 {
			continue
		}
		seen += b.Count
		out = append(out, CDFPoint{Millis: float64(b.To) / 1000, Fraction: float64(seen) / float64(total)})
	}
	return out
}

// wireLatency is a histogram as workers send it to the parent: only non-empty buckets,
// since a snapshot of the full counts array is mostly zeros.
type wireLatency struct {
	Index []int32 `json:"i"`
	Count []int64 `json:"c"`
}

func (l *Latency) wire() wireLatency {
	s := l.h.Export()
	var w wireLatency
	for i, c := range s.Counts {
		if c != 0 {
			w.Index = append(w.Index, int32(i))
			w.Count = append(w.Count, c)
		}
	}
	return w
}

func latencyFromWire(w wireLatency) *Latency {
	l := NewLatency()
	s := l.h.Export()
	for k, i := range w.Index {
		if int(i) < len(s.Counts) {
			s.Counts[i] = w.Count[k]
		}
	}
	l.h = hdrhistogram.Import(s)
	return l
}

// Percentile returns the p-th percentile (0..100) of xs by linear interpolation between
// closest ranks (the method spreadsheets call PERCENTILE.INC). xs is not modified; an
// empty xs gives NaN.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if p <= 0 {
		return s[0]
	}
	if p >= 100 {
		return s[len(s)-1]
	}
	r := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(r))
	frac := r - float64(lo)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + frac*(s[lo+1]-s[lo])
}

// Median is Percentile(xs, 50).
func Median(xs []float64) float64 { return Percentile(xs, 50) }
