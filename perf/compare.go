package perf

import (
	"context"
	"fmt"
)

// Metric is one figure a comparison reports, read from a Result.
type Metric struct {
	Name string
	Unit string
	// Lower is true when a smaller value is better (latency, memory, CPU).
	Lower bool
	get   func(r *Result) float64
}

// ScenarioMetrics lists what compare and suite put side by side for a scenario.
func ScenarioMetrics(scenario string) []Metric {
	switch scenario {
	case "idle":
		return []Metric{
			{"server RSS per connection", "B", true, func(r *Result) float64 { return r.RSSPerConn }},
			{"connect rate", "conns/s", false, func(r *Result) float64 { return r.ConnectPerSec }},
			{"server CPU per connection", "µs", true, func(r *Result) float64 { return r.CPUPerConnUS }},
		}
	case "broadcast":
		return []Metric{
			{"time to all, p50", "ms", true, func(r *Result) float64 { return r.TimeToAll.orZero().P50 }},
			{"time to all, max", "ms", true, func(r *Result) float64 { return r.TimeToAll.orZero().Max }},
			{"deliveries per second", "msgs/s", false, func(r *Result) float64 { return r.MsgsPerSec }},
			{"latency p99", "ms", true, func(r *Result) float64 { return latOf(r).P99 }},
			{"server CPU per delivery", "µs", true, func(r *Result) float64 { return r.CPUPerMsgUS }},
			{"lost", "msgs", true, func(r *Result) float64 { return float64(r.Lost) }},
		}
	}
	return []Metric{
		{"delivered per second", "msgs/s", false, func(r *Result) float64 { return r.MsgsPerSec }},
		{"latency p50", "ms", true, func(r *Result) float64 { return latOf(r).P50 }},
		{"latency p99", "ms", true, func(r *Result) float64 { return latOf(r).P99 }},
		{"latency p999", "ms", true, func(r *Result) float64 { return latOf(r).P999 }},
		{"server CPU per delivery", "µs", true, func(r *Result) float64 { return r.CPUPerMsgUS }},
		{"lost", "msgs", true, func(r *Result) float64 { return float64(r.Lost) }},
	}
}

func latOf(r *Result) LatencySummary {
	if r.Latency == nil {
		return LatencySummary{}
	}
	return *r.Latency
}

// MetricRow is one line of a comparison: medians over rounds and A/B.
type MetricRow struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Lower bool    `json:"lower_is_better"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
	Ratio float64 `json:"ratio"` // A/B; 0 when B is 0
	// HasA and HasB are false when that target has no runs (a pushwire-only variant, or a
	// target that failed to start): its zero is then not a measurement.
	HasA bool `json:"has_a"`
	HasB bool `json:"has_b"`
}

// Comparison is one scenario run against two targets.
type Comparison struct {
	Scenario string      `json:"scenario"`
	A        string      `json:"a"`
	B        string      `json:"b"`
	Rounds   int         `json:"rounds"`
	RunsA    []*Result   `json:"runs_a"`
	RunsB    []*Result   `json:"runs_b"`
	Rows     []MetricRow `json:"metrics"`
}

// Scenario runs one named scenario.
func Scenario(name string) (func(context.Context, Options) (*Result, error), error) {
	switch name {
	case "idle":
		return RunIdle, nil
	case "unicast":
		return RunUnicast, nil
	case "broadcast":
		return RunBroadcast, nil
	case "cluster":
		return RunCluster, nil
	}
	return nil, fmt.Errorf("perf: unknown scenario %q", name)
}

// Compare runs scenario against a and b alternately (A B A B ...) for rounds rounds each,
// so that drift on the shared machine (other jobs, thermal, page cache) hits both alike,
// and reports the medians and their ratio.
func Compare(ctx context.Context, scenario string, a, b Options, rounds int) (*Comparison, error) {
	run, err := Scenario(scenario)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Scenario: scenario, A: a.Target.Kind.String(), B: b.Target.Kind.String(), Rounds: max(rounds, 1)}
	for i := range c.Rounds {
		a.logf("compare %s: round %d/%d, %s", scenario, i+1, c.Rounds, c.A)
		ra, err := run(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("%s round %d: %w", c.A, i+1, err)
		}
		c.RunsA = append(c.RunsA, ra)
		b.logf("compare %s: round %d/%d, %s", scenario, i+1, c.Rounds, c.B)
		rb, err := run(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("%s round %d: %w", c.B, i+1, err)
		}
		c.RunsB = append(c.RunsB, rb)
	}
	c.Rows = CompareRows(scenario, c.RunsA, c.RunsB)
	return c, nil
}

// CompareRows computes median-per-metric rows for two sets of runs of one scenario.
func CompareRows(scenario string, as, bs []*Result) []MetricRow {
	var rows []MetricRow
	for _, m := range ScenarioMetrics(scenario) {
		row := MetricRow{Name: m.Name, Unit: m.Unit, Lower: m.Lower, A: medianOf(as, m.get), B: medianOf(bs, m.get),
			HasA: len(as) > 0, HasB: len(bs) > 0}
		if row.B != 0 {
			row.Ratio = row.A / row.B
		}
		rows = append(rows, row)
	}
	return rows
}

func medianOf(rs []*Result, get func(*Result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = get(r)
	}
	return Median(xs)
}
