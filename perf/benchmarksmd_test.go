package perf

import (
	"strings"
	"testing"
)

func TestSpliceSection(t *testing.T) {
	t.Parallel()
	sec := MarkBegin + "\nNEW\n" + MarkEnd + "\n"
	for _, c := range []struct{ name, doc, want string }{
		{"new file", "", "# pushwire benchmarks\n\nFigures from `pushbench suite` (cmd/pushbench, scenarios in perf/).\n\n" + sec},
		{"no markers", "# B\n\nanalysis\n", "# B\n\nanalysis\n\n" + sec},
		{"replace keeps the rest", "# B\n\n" + MarkBegin + "\nOLD\n" + MarkEnd + "\n\n## Profile notes\nkeep\n",
			"# B\n\n" + sec + "\n## Profile notes\nkeep\n"},
	} {
		if got := spliceSection(c.doc, sec); got != c.want {
			t.Fatalf("%s: spliceSection =\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
}

func TestRenderSuite(t *testing.T) {
	t.Parallel()
	rs := sampleResults()
	r := &SuiteResult{Date: "2025-01-01T00:00:00Z", Commit: "abc", Machine: "2 × CPU", GoVersion: "go1.26",
		Command: "pushbench suite --conns 100", ServerCPUs: "0", LoadCPUs: "1",
		Tables: []*SuiteTable{suiteTable(suiteScenario{name: "idle", kind: "idle"},
			map[string][]*Result{"pushwire": rs[:1], "nchan": rs[1:2]}, nil)},
		Runs: rs, Micro: "BenchmarkX-2  10  100 ns/op\n", Problems: []string{"pushwire did not build: x"}}
	md := RenderSuite(r)
	for _, want := range []string{MarkBegin, MarkEnd, "- Commit: abc", "- Command: `pushbench suite --conns 100`",
		"### idle (100 connections)", "| server RSS per connection (lower is better) | 280 B | 10.7 KiB | 0.025× |",
		"BenchmarkX-2", "pushwire did not build"} {
		if !strings.Contains(md, want) {
			t.Fatalf("RenderSuite lacks %q:\n%s", want, md)
		}
	}
}

// TestSuiteTargets: pushwire's figures against the floor and every peer, the floor
// standing in from its reference scenario for a pushwire-only one, and the verdicts.
func TestSuiteTargets(t *testing.T) {
	t.Parallel()
	u := func(target string, rate, cpu float64) *Result {
		return &Result{Scenario: "unicast", Target: target, Conns: 100, MsgsPerSec: rate, CPUPerMsgUS: cpu,
			Latency: &LatencySummary{P50: 1}}
	}
	unicast := map[string][]*Result{
		"pushwire":   {u("pushwire", 95, 10), u("pushwire", 90, 11), u("pushwire", 99, 10.5)}, // medians 95, 10.5
		"floor":      {u("floor", 100, 10)},
		"nchan":      {u("nchan", 50, 20)},
		"centrifugo": {u("centrifugo", 20, 40)},
	}
	pipelined := map[string][]*Result{
		"pushwire": {u("pushwire", 80, 12)},
		"floor":    {u("floor", 100, 10)},
		"nchan":    {u("nchan", 90, 11)},
	}
	batch := map[string][]*Result{"pushwire": {u("pushwire", 300, 5)}}
	p := func(target string, p99, cpu float64) *Result {
		return &Result{Scenario: "unicast-fixed-rate", Target: target, Conns: 100, Rate: 30, MsgsPerSec: 30, CPUPerMsgUS: cpu,
			Latency: &LatencySummary{P50: 1, P99: p99}}
	}
	paced := map[string][]*Result{"pushwire": {p("pushwire", 1, 10)}, "floor": {p("floor", 2, 10)}, "nchan": {p("nchan", 2, 20)}}
	bcast := map[string][]*Result{"floor": {{Scenario: "broadcast", Target: "floor", Conns: 100, MsgsPerSec: 400, CPUPerMsgUS: 4}}}
	ts := []*SuiteTable{
		suiteTable(suiteScenario{name: "unicast", kind: "unicast"}, unicast, nil),
		suiteTable(suiteScenario{name: "unicast-pipelined", kind: "unicast"}, pipelined, nil),
		suiteTable(suiteScenario{name: "unicast-batch", kind: "unicast", floorRef: "broadcast"}, batch, bcast),
		suiteTable(suiteScenario{name: "unicast-fixed-rate", kind: "unicast"}, paced, nil),
	}
	r := &SuiteResult{Tables: ts}
	md := RenderSuite(r)
	for _, want := range []string{
		"| metric | pushwire | floor | nchan | centrifugo | pushwire / floor | pushwire / nchan | pushwire / centrifugo |",
		"| delivered per second (higher is better) | 95 msgs/s | 100 msgs/s | 50 msgs/s | 20 msgs/s | 0.950× | 1.90× | 4.75× |",
		"| server CPU per delivery (lower is better) | 10.50 µs | 10.00 µs | 20.00 µs | 40.00 µs | 1.05× | 0.525× | 0.263× |",
		"| unicast | 0.950× | 1.05× | nchan: yes (1.90×, 0.525×); centrifugo: yes (4.75×, 0.263×) | met |",
		"| unicast-pipelined | 0.800× | 1.20× | nchan: **no** (0.889×, 1.09×) | **missed** |",
		"| metric | pushwire | floor (its broadcast run) | pushwire / floor |",
		"| unicast-batch | 0.750× (floor's broadcast) | 1.25× (floor's broadcast) | - | **missed** |",
		"| unicast-fixed-rate | 1.00× | 1.00× | nchan: yes (p99 0.500×, CPU 0.500×) | met |",
		"**Centrifugo caveats**", "Centrifugo: JSON API publishes",
	} {
		if !strings.Contains(md, want) {
			t.Fatalf("RenderSuite lacks %q:\n%s", want, md)
		}
	}
}
