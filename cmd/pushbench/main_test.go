package main

import (
	"slices"
	"testing"

	"github.com/pushwire/pushwire/perf"
)

func TestParsePids(t *testing.T) {
	t.Parallel()
	got, err := parsePids(" 12,34 ,,56")
	if err != nil || !slices.Equal(got, []int{12, 34, 56}) {
		t.Fatalf("parsePids = %v, %v; want [12 34 56], nil", got, err)
	}
	if _, err := parsePids("12,x"); err == nil {
		t.Fatal("parsePids(12,x) = nil error; want an error")
	}
}

func TestTargetDefaults(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tf   targetFlags
		want perf.Target
	}{
		{targetFlags{kind: "pushwire"}, perf.Target{Kind: perf.KindPushwire, Edge: "127.0.0.1:8080", API: "127.0.0.1:8081", Format: perf.FormatNDJSON}},
		{targetFlags{kind: "nchan", edge: "127.0.0.1:9"}, perf.Target{Kind: perf.KindNchan, Edge: "127.0.0.1:9", API: "127.0.0.1:9", Format: perf.FormatSSE}},
		{targetFlags{kind: "centrifugo"}, perf.Target{Kind: perf.KindCentrifugo, Edge: "127.0.0.1:8000", API: "127.0.0.1:8000", Format: perf.FormatSSE}},
		{targetFlags{kind: "floor", format: "ndjson"}, perf.Target{Kind: perf.KindFloor, Edge: "127.0.0.1:8090", API: "127.0.0.1:8090", Format: perf.FormatSSE}},
		{targetFlags{kind: "pushwire", format: "sse", pids: "7"}, perf.Target{Kind: perf.KindPushwire, Edge: "127.0.0.1:8080", API: "127.0.0.1:8081", Format: perf.FormatSSE, Pids: []int{7}}},
	} {
		got, err := c.tf.target()
		if err != nil || got.Kind != c.want.Kind || got.Edge != c.want.Edge || got.API != c.want.API ||
			got.Format != c.want.Format || !slices.Equal(got.Pids, c.want.Pids) {
			t.Fatalf("%+v.target() = %+v, %v; want %+v", c.tf, got, err, c.want)
		}
	}
	if _, err := (&targetFlags{kind: "pushpin"}).target(); err == nil {
		t.Fatal("target pushpin = nil error; want an error")
	}
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	got, err := parseKinds("nchan, floor,pushwire")
	if want := []perf.Kind{perf.KindPushwire, perf.KindFloor, perf.KindNchan}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("parseKinds = %v, %v; want %v in column order", got, err, want)
	}
	for _, bad := range []string{"", " , ", "nchan,pushpin"} {
		if _, err := parseKinds(bad); err == nil {
			t.Fatalf("parseKinds(%q) = nil error; want an error", bad)
		}
	}
}

func TestShellJoin(t *testing.T) {
	t.Parallel()
	got := shellJoin([]string{"--conns", "15000", "--benchmarks", "my file.md", "it's", ""})
	want := `--conns 15000 --benchmarks 'my file.md' 'it'\''s' ''`
	if got != want {
		t.Fatalf("shellJoin = %s; want %s", got, want)
	}
}
