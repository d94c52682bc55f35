package perf

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func sampleResults() []*Result {
	g := int64(12)
	return []*Result{
		{Scenario: "idle", Target: "pushwire", Conns: 100, Connected: 100, ConnectPerSec: 5000, RSSPerConn: 280, Goroutines: &g},
		{Scenario: "idle", Target: "nchan", Conns: 100, Connected: 100, ConnectPerSec: 4000, RSSPerConn: 11000},
		{Scenario: "unicast", Target: "nchan", Conns: 100, Publishers: 50, Delivered: 100, MsgsPerSec: 41000.4,
			Latency: &LatencySummary{P50: 1.2, P99: 4.3}, CPUPerMsgUS: 16, Publish: &PubResult{Errors: 2}},
		{Scenario: "broadcast", Target: "nchan", Conns: 100, Delivered: 2000, TimeToAll: &Spread{P50: 140}, Publish: &PubResult{OK: 20}},
	}
}

func TestMarkdownResults(t *testing.T) {
	t.Parallel()
	md := MarkdownResults(sampleResults())
	for _, want := range []string{
		"**idle**\n\n| target | conns |",
		"| pushwire | 100 | 100 | 0 | 5000 | 280 B | 12 | - |",
		"| nchan | 100 | 100 | 0 | 4000 | 10.7 KiB | - | - |",
		"| nchan | 100 | 50 | 1 | 1 | 100 | 0 | 2 | 41000 | 1.20 ms | - | 4.30 ms | - | - | 16.00 µs | - |",
		"**broadcast**",
		"| nchan | 100 | 20 | 2000 | 0 | 140.00 ms |",
	} {
		if !strings.Contains(md, want) {
			t.Fatalf("Markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row has as many cells as its header.
	for _, block := range strings.Split(md, "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if !strings.HasPrefix(lines[0], "|") {
			continue
		}
		want := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			if got := strings.Count(l, "|"); got != want {
				t.Fatalf("row %q has %d bars; header has %d", l, got, want)
			}
		}
	}
}

func TestCompareRowsAndMarkdown(t *testing.T) {
	t.Parallel()
	mk := func(rate, p99 float64) *Result {
		return &Result{Scenario: "unicast", MsgsPerSec: rate, Latency: &LatencySummary{P99: p99}}
	}
	as := []*Result{mk(100, 1), mk(300, 3), mk(200, 2)}
	bs := []*Result{mk(50, 4), mk(50, 4), mk(100, 8)}
	rows := CompareRows("unicast", as, bs)
	if rows[0].Name != "delivered per second" || rows[0].A != 200 || rows[0].B != 50 || rows[0].Ratio != 4 {
		t.Fatalf("rows[0] = %+v; want medians 200 and 50, ratio 4", rows[0])
	}
	if rows[2].Name != "latency p99" || rows[2].Ratio != 0.5 || !rows[2].Lower {
		t.Fatalf("rows[2] = %+v; want p99 ratio 0.5, lower is better", rows[2])
	}
	md := MarkdownComparison(&Comparison{Scenario: "unicast", A: "pushwire", B: "nchan", Rounds: 3, Rows: rows})
	for _, want := range []string{"medians of 3 rounds", "| metric | pushwire | nchan | pushwire / nchan |",
		"| delivered per second (higher is better) | 200 msgs/s | 50 msgs/s | 4.00× |"} {
		if !strings.Contains(md, want) {
			t.Fatalf("comparison Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleResults()); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 4 || back[2].Latency.P99 != 4.3 || *back[0].Goroutines != 12 {
		t.Fatalf("JSON round trip lost fields: %+v", back)
	}
}

func TestNumFormatting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{{0, "ms", "-"}, {0.0123, "ms", "0.012 ms"}, {1.5, "µs", "1.50 µs"}, {999, "B", "999 B"}, {20480, "B", "20.0 KiB"}, {61234.6, "msgs/s", "61235 msgs/s"}, {0, "msgs", "0 msgs"}} {
		if got := unitCell(c.v, c.unit); got != c.want {
			t.Fatalf("unitCell(%v, %q) = %q; want %q", c.v, c.unit, got, c.want)
		}
	}
}
