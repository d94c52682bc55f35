package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes v indented, for --out or stdout.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// MarkdownResults renders results as one table per scenario, in the order first seen.
func MarkdownResults(rs []*Result) string {
	var b strings.Builder
	var order []string
	by := map[string][]*Result{}
	for _, r := range rs {
		if _, ok := by[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	for i, sc := range order {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**%s**\n\n", sc)
		writeTable(&b, resultTable(sc, by[sc]))
	}
	return b.String()
}

// table is a header row and body rows of cells.
type table struct {
	head []string
	rows [][]string
}

func resultTable(scenario string, rs []*Result) table {
	var t table
	switch scenario {
	case "idle":
		t.head = []string{"target", "conns", "connected", "failed", "connect/s", "server RSS/conn", "goroutines", "server CPU/conn"}
		for _, r := range rs {
			g := "-"
			if r.Goroutines != nil {
				g = strconv.FormatInt(*r.Goroutines, 10)
			}
			t.rows = append(t.rows, []string{r.Target, itoa(r.Conns), itoa(r.Connected), itoa(r.ConnectFailed),
				num(r.ConnectPerSec, 0), bytesCell(r.RSSPerConn), g, unitCell(r.CPUPerConnUS, "µs")})
		}
	case "broadcast":
		t.head = []string{"target", "conns", "publishes", "deliveries", "lost", "time-to-all p50", "p90", "max",
			"deliveries/s", "latency p50", "p99", "server CPU/delivery", "client CPU/delivery"}
		for _, r := range rs {
			s, l := r.TimeToAll.orZero(), latOf(r)
			t.rows = append(t.rows, []string{r.Target, itoa(r.Conns), i64(pubOK(r)), i64(r.Delivered), i64(r.Lost),
				ms(s.P50), ms(s.P90), ms(s.Max), num(r.MsgsPerSec, 0), ms(l.P50), ms(l.P99), unitCell(r.CPUPerMsgUS, "µs"),
				unitCell(r.ClientCPUPerMsgUS, "µs")})
		}
	default:
		t.head = []string{"target", "conns", "publishers", "pipeline", "batch", "delivered", "lost", "errors",
			"delivered/s", "p50", "p90", "p99", "p999", "max", "server CPU/msg", "client CPU/msg"}
		for _, r := range rs {
			l := latOf(r)
			var errs int64
			if r.Publish != nil {
				errs = r.Publish.Errors
			}
			t.rows = append(t.rows, []string{r.Target, itoa(r.Conns), itoa(r.Publishers), itoa(max(r.Pipeline, 1)),
				itoa(max(r.Batch, 1)), i64(r.Delivered), i64(r.Lost), i64(errs), num(r.MsgsPerSec, 0),
				ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), unitCell(r.CPUPerMsgUS, "µs"),
				unitCell(r.ClientCPUPerMsgUS, "µs")})
		}
	}
	return t
}

// MarkdownComparison renders a comparison: one row per metric with both medians and A/B.
func MarkdownComparison(c *Comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**: medians of %d rounds each, alternating %s and %s\n\n", c.Scenario, c.Rounds, c.A, c.B)
	writeTable(&b, rowsTable(c.A, c.B, c.Rows))
	return b.String()
}

func rowsTable(a, b string, rows []MetricRow) table {
	t := table{head: []string{"metric", a, b, a + " / " + b}}
	for _, r := range rows {
		better := "higher is better"
		if r.Lower {
			better = "lower is better"
		}
		ratio := "-"
		if r.Ratio != 0 {
			ratio = num(r.Ratio, 2) + "×"
		}
		a, b := "-", "-"
		if r.HasA {
			a = unitCell(r.A, r.Unit)
		}
		if r.HasB {
			b = unitCell(r.B, r.Unit)
		}
		t.rows = append(t.rows, []string{r.Name + " (" + better + ")", a, b, ratio})
	}
	return t
}

func writeTable(w *strings.Builder, t table) {
	w.WriteString("| " + strings.Join(t.head, " | ") + " |\n|")
	for range t.head {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	for _, r := range t.rows {
		w.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
}

func pubOK(r *Result) int64 {
	if r.Publish == nil {
		return 0
	}
	return r.Publish.OK
}

func itoa(n int) string   { return strconv.Itoa(n) }
func i64(n int64) string  { return strconv.FormatInt(n, 10) }
func ms(v float64) string { return unitCell(v, "ms") }

// num formats v with prec decimals, or more for small values so that they do not read as 0.
func num(v float64, prec int) string {
	if v != 0 && v < 1 && v > -1 && prec < 3 {
		prec = 3
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// unitCell prints "-" for an unmeasured (zero) figure, else the value with its unit. A
// count of messages (lost) is always measured, so its zero is printed.
func unitCell(v float64, unit string) string {
	if v == 0 && unit != "msgs" {
		return "-"
	}
	switch unit {
	case "ms", "µs":
		return num(v, 2) + " " + unit
	case "B":
		return bytesCell(v)
	}
	return num(v, 0) + " " + unit
}

func bytesCell(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 10240 || v <= -10240:
		return num(v/1024, 1) + " KiB"
	}
	return num(v, 0) + " B"
}
