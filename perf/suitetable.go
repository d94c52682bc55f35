package perf

import (
	"fmt"
	"strings"
)

// SuiteKinds are the suite's targets in column order: pushwire, the floor it is measured
// against, then the peers.
var SuiteKinds = []Kind{KindPushwire, KindFloor, KindNchan, KindCentrifugo}

// SuiteTable is one scenario of the suite: the medians of every target that ran it and
// pushwire's ratio to each.
type SuiteTable struct {
	Scenario string `json:"scenario"`
	// Targets are the columns, pushwire first; a target that did not run the scenario is
	// absent, unless Ref names the scenario whose runs stand in for it.
	Targets []string             `json:"targets"`
	Ref     map[string]string    `json:"ref,omitempty"`
	Runs    map[string][]*Result `json:"runs"`
	Rows    []SuiteRow           `json:"metrics"`
}

// SuiteRow is one metric: medians by target (as SuiteTable.Targets) and pushwire / each.
type SuiteRow struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Lower  bool      `json:"lower_is_better"`
	Values []float64 `json:"values"`
	// Ratios[i] is pushwire / Targets[i] (Ratios[0] is 1); 0 when either is unmeasured.
	Ratios []float64 `json:"ratios"`
}

// suiteTable builds the table of one scenario from runs by target; refRuns stand in for
// targets that did not run it (see suiteScenario.floorRef).
func suiteTable(sc suiteScenario, runs map[string][]*Result, refRuns map[string][]*Result) *SuiteTable {
	t := &SuiteTable{Scenario: sc.name, Runs: map[string][]*Result{}}
	for _, k := range SuiteKinds {
		name := k.String()
		rs := runs[name]
		if len(rs) == 0 && k == KindFloor && sc.floorRef != "" && len(refRuns[name]) > 0 {
			rs = refRuns[name]
			if t.Ref == nil {
				t.Ref = map[string]string{}
			}
			t.Ref[name] = sc.floorRef
		}
		if len(rs) == 0 && k != KindPushwire {
			continue
		}
		t.Targets = append(t.Targets, name)
		t.Runs[name] = rs
	}
	for _, m := range ScenarioMetrics(sc.kind) {
		row := SuiteRow{Name: m.Name, Unit: m.Unit, Lower: m.Lower}
		for _, name := range t.Targets {
			v := medianOf(t.Runs[name], m.get)
			if t.Ref[name] != "" && strings.HasPrefix(m.Name, "latency") {
				v = 0 // another scenario's latency says nothing about this one
			}
			row.Values = append(row.Values, v)
		}
		pw := row.Values[0]
		for _, v := range row.Values {
			r := 0.0
			if v != 0 && pw != 0 && len(t.Runs[t.Targets[0]]) > 0 {
				r = pw / v
			}
			row.Ratios = append(row.Ratios, r)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// header names target i's column, with the scenario it stands in from.
func (t *SuiteTable) header(i int) string {
	name := t.Targets[i]
	if ref := t.Ref[name]; ref != "" {
		return name + " (its " + ref + " run)"
	}
	return name
}

func (t *SuiteTable) markdown() table {
	tb := table{head: []string{"metric"}}
	for i := range t.Targets {
		tb.head = append(tb.head, t.header(i))
	}
	for _, name := range t.Targets[1:] {
		tb.head = append(tb.head, "pushwire / "+name)
	}
	for _, r := range t.Rows {
		better := "higher is better"
		if r.Lower {
			better = "lower is better"
		}
		cells := []string{r.Name + " (" + better + ")"}
		for i, name := range t.Targets {
			c := "-"
			if len(t.Runs[name]) > 0 {
				c = unitCell(r.Values[i], r.Unit)
			}
			cells = append(cells, c)
		}
		for _, x := range r.Ratios[1:] {
			c := "-"
			if x != 0 {
				c = num(x, 2) + "×"
			}
			cells = append(cells, c)
		}
		tb.rows = append(tb.rows, cells)
	}
	return tb
}

// connsOf is the subscriber count of the table's first run.
func (t *SuiteTable) connsOf() int {
	for _, name := range t.Targets {
		if rs := t.Runs[name]; len(rs) > 0 {
			return rs[0].Conns
		}
	}
	return 0
}

// firstRun is pushwire's first run, or any target's.
func (t *SuiteTable) firstRun() *Result {
	for _, name := range t.Targets {
		if rs := t.Runs[name]; len(rs) > 0 && t.Ref[name] == "" {
			return rs[0]
		}
	}
	return nil
}

func (t *SuiteTable) row(names ...string) (SuiteRow, bool) {
	for _, r := range t.Rows {
		for _, n := range names {
			if r.Name == n {
				return r, true
			}
		}
	}
	return SuiteRow{}, false
}

func (t *SuiteTable) col(name string) int {
	for i, n := range t.Targets {
		if n == name && len(t.Runs[n]) > 0 {
			return i
		}
	}
	return -1
}

// Floor and peer targets of BENCHMARKS.md: pushwire ahead of every peer, and at least
// FloorThroughput × the floor's throughput at no more than FloorCPU × its CPU per delivery.
const (
	FloorThroughput = 0.9
	FloorCPU        = 1.1
)

// targetsTable judges each scenario against the targets above.
func targetsTable(ts []*SuiteTable) table {
	tb := table{head: []string{"scenario", "throughput / floor (≥ 0.9×)", "CPU per delivery / floor (≤ 1.1×)",
		"ahead of every peer (throughput, CPU per delivery; fixed rate: p99, CPU; idle: RSS per connection)", "verdict"}}
	for _, t := range ts {
		if t.col("pushwire") != 0 {
			continue
		}
		thr, okT := t.row("delivered per second", "deliveries per second")
		cpu, okC := t.row("server CPU per delivery")
		cells := []string{t.Scenario, "-", "-", "-", ""}
		met, judged := true, false
		r := t.firstRun()
		paced := r != nil && r.Rate > 0
		if f := t.col("floor"); f > 0 && okT && okC {
			ref := ""
			if r := t.Ref["floor"]; r != "" {
				ref = " (floor's " + r + ")"
			}
			cells[1] = ratioCell(thr.Ratios[f]) + ref
			cells[2] = ratioCell(cpu.Ratios[f]) + ref
			met = met && thr.Ratios[f] >= FloorThroughput && cpu.Ratios[f] > 0 && cpu.Ratios[f] <= FloorCPU
			judged = true
		}
		var peers []string
		for i, name := range t.Targets {
			if name == "pushwire" || name == "floor" || len(t.Runs[name]) == 0 {
				continue
			}
			var ahead bool
			var what string
			p99, okL := t.row("latency p99")
			switch {
			case t.Scenario == "idle":
				rss, _ := t.row("server RSS per connection")
				ahead, what = rss.Ratios[i] > 0 && rss.Ratios[i] < 1, "RSS "+ratioCell(rss.Ratios[i])
			case paced && okL && okC:
				// The rate is fixed: every server that keeps up delivers it, so being ahead
				// is lower latency and less CPU.
				ahead = p99.Ratios[i] > 0 && p99.Ratios[i] < 1 && cpu.Ratios[i] > 0 && cpu.Ratios[i] < 1
				what = "p99 " + ratioCell(p99.Ratios[i]) + ", CPU " + ratioCell(cpu.Ratios[i])
			case okT && okC:
				ahead = thr.Ratios[i] > 1 && cpu.Ratios[i] > 0 && cpu.Ratios[i] < 1
				what = ratioCell(thr.Ratios[i]) + ", " + ratioCell(cpu.Ratios[i])
			}
			mark := "yes"
			if !ahead {
				mark = "**no**"
			}
			peers = append(peers, fmt.Sprintf("%s: %s (%s)", name, mark, what))
			met = met && ahead
			judged = true
		}
		if len(peers) > 0 {
			cells[3] = strings.Join(peers, "; ")
		}
		switch {
		case t.Scenario == "cluster":
			// Two nodes against one floor process: its own target is cross-node CPU per
			// message ≤ 1.5× same-node (issue 17 item 2), not the floor's.
			cells[4] = "- (cross-node: its target is ≤ 1.5× same-node CPU)"
		case !judged:
			cells[4] = "-"
		case met:
			cells[4] = "met"
		default:
			cells[4] = "**missed**"
		}
		tb.rows = append(tb.rows, cells)
	}
	return tb
}

func ratioCell(x float64) string {
	if x == 0 {
		return "-"
	}
	return num(x, 2) + "×"
}
