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
		Comparisons: []*Comparison{{Scenario: "idle", A: "pushwire", B: "nchan", Rounds: 1,
			RunsA: rs[:1], RunsB: rs[1:2], Rows: CompareRows("idle", rs[:1], rs[1:2])}},
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
