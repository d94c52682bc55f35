// Package promscrape reads a node's /metrics with Prometheus's own text
// parser (github.com/prometheus/common/expfmt), as a Prometheus server
// would, and answers what the tests ask of it: a family's type, a sample's
// value, a histogram's count and buckets.
package promscrape

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape: every metric family by name.
type Families map[string]*dto.MetricFamily

// Get scrapes url (http://host:port/metrics) with client and parses it. A
// body the parser refuses, a family twice or a sample of no family is an
// error: Prometheus would refuse the scrape.
func Get(client *http.Client, url string) (Families, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want text/plain; version=0.0.4", url, ct)
	}
	return Parse(string(body))
}

// Scrape is Get on http://<api>/metrics that fails t on any error.
func Scrape(t testing.TB, client *http.Client, api string) Families {
	t.Helper()
	f, err := Get(client, "http://"+api+"/metrics")
	if err != nil {
		t.Fatalf("scrape %s/metrics: %v", api, err)
	}
	return f
}

// Parse parses the Prometheus text exposition format.
func Parse(text string) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	return Families(fams), nil
}

// Type is the family's type, "" when there is no such family.
func (f Families) Type(name string) string {
	fam, ok := f[name]
	if !ok {
		return ""
	}
	return strings.ToLower(fam.GetType().String())
}

// metric finds the sample of family name whose labels include every
// name=value pair of labels.
func (f Families) metric(name string, labels ...string) *dto.Metric {
	fam, ok := f[name]
	if !ok {
		return nil
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// Value is a counter's, gauge's or untyped sample's value; ok is false when
// there is no such sample.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	m := f.metric(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Untyped != nil:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// Histogram is one histogram sample; nil when there is none.
func (f Families) Histogram(name string, labels ...string) *dto.Histogram {
	if m := f.metric(name, labels...); m != nil {
		return m.GetHistogram()
	}
	return nil
}

// Count is a histogram's sample count, 0 when there is none.
func (f Families) Count(name string, labels ...string) uint64 {
	return f.Histogram(name, labels...).GetSampleCount()
}

// CountSince is how much a histogram's count grew from before to f.
func (f Families) CountSince(before Families, name string, labels ...string) uint64 {
	return f.Count(name, labels...) - before.Count(name, labels...)
}

// ValueSince is how much a counter grew from before to f.
func (f Families) ValueSince(before Families, name string, labels ...string) float64 {
	a, _ := f.Value(name, labels...)
	b, _ := before.Value(name, labels...)
	return a - b
}

// Between is how many observations of a histogram fell in (lo, hi]: bucket
// bounds both, as the exposition's cumulative "le" buckets give them.
func Between(h *dto.Histogram, lo, hi float64) uint64 {
	var atLo, atHi uint64
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == lo {
			atLo = b.GetCumulativeCount()
		}
		if b.GetUpperBound() == hi {
			atHi = b.GetCumulativeCount()
		}
	}
	return atHi - atLo
}
