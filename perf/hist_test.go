package perf

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3} // unsorted on purpose
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {50, 3}, {100, 5}, {25, 2}, {90, 4.6}, {-1, 1}, {101, 5},
	} {
		if got := Percentile(xs, c.p); math.Abs(got-c.want) > 1e-9 {
			t.Fatalf("Percentile(%v, %v) = %v; want %v", xs, c.p, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Fatal("Percentile sorted its input in place")
	}
	if got := Median([]float64{1, 2, 3, 4}); got != 2.5 {
		t.Fatalf("Median(1..4) = %v; want 2.5", got)
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Fatalf("Percentile(nil) = %v; want NaN", got)
	}
}

func TestLatencySummary(t *testing.T) {
	t.Parallel()
	l := NewLatency()
	// 1..1000 µs, one each: p50 ≈ 0.5 ms, p99 ≈ 0.99 ms, max 1 ms.
	for us := int64(1); us <= 1000; us++ {
		l.RecordNanos(us * 1000)
	}
	s := l.Summary()
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.002+0.001 { // 3 significant digits
			t.Fatalf("%s = %v ms; want %v ms", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Fatalf("Count = %d; want 1000", s.Count)
	}
	check("p50", s.P50, 0.5)
	check("p90", s.P90, 0.9)
	check("p99", s.P99, 0.99)
	check("p999", s.P999, 0.999)
	check("max", s.Max, 1)
	check("mean", s.Mean, 0.5005)
}

func TestLatencyClampsAndEmpty(t *testing.T) {
	t.Parallel()
	l := NewLatency()
	if s := l.Summary(); s != (LatencySummary{}) {
		t.Fatalf("empty Summary = %+v; want zero", s)
	}
	l.RecordNanos(-5)          // a clock glitch must not vanish
	l.RecordNanos(int64(1e15)) // nor a message far too late
	if l.Count() != 2 {
		t.Fatalf("Count = %d; want 2 (clamped, not dropped)", l.Count())
	}
	if s := l.Summary(); s.Max < 59_000 {
		t.Fatalf("Max = %v ms; want the 60 s ceiling", s.Max)
	}
}

func TestLatencyWireMergeAndCDF(t *testing.T) {
	t.Parallel()
	a, b := NewLatency(), NewLatency()
	for i := range 100 {
		a.RecordNanos(int64(i+1) * 10_000)
		b.RecordNanos(int64(i+1) * 1_000_000)
	}
	sum := NewLatency()
	sum.Merge(latencyFromWire(a.wire()))
	sum.Merge(latencyFromWire(b.wire()))
	if sum.Count() != 200 {
		t.Fatalf("merged Count = %d; want 200", sum.Count())
	}
	if got, want := sum.Summary().Max, b.Summary().Max; got != want {
		t.Fatalf("merged Max = %v; want %v", got, want)
	}
	cdf := sum.CDF()
	if len(cdf) == 0 || cdf[len(cdf)-1].Fraction != 1 {
		t.Fatalf("CDF ends at %v; want 1", cdf)
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Millis < cdf[i-1].Millis || cdf[i].Fraction < cdf[i-1].Fraction {
			t.Fatalf("CDF not monotonic at %d: %v then %v", i, cdf[i-1], cdf[i])
		}
	}
	if f := cdf[len(cdf)/4]; f.Fraction > 0.5 || f.Millis > 1.01 {
		t.Fatalf("CDF quarter point %v; want within a's sub-millisecond half", f)
	}
}
