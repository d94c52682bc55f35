package server

import (
	"reflect"
	"testing"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/push"
)

// FuzzPresenceQuery feeds arbitrary query strings to /topics' parser and
// ?last='s: no panic, and what they accept is in range.
func FuzzPresenceQuery(f *testing.F) {
	for _, seed := range []string{"", "prefix=news&limit=10", "limit=0", "limit=1001", "prefix=%zz", "prefix=a%20b",
		"limit=5&limit=7", "prefix=&limit=1", "last=3", "last=-1", "limit=99999999999999999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		var q cluster.Query
		status, reason := parseTopicsQuery(&q, query)
		switch {
		case status == 0 && (q.Limit < 1 || q.Limit > cluster.MaxQueryLimit):
			t.Fatalf("parseTopicsQuery(%q) accepted limit %d", query, q.Limit)
		case status == 0 && q.Name != "" && !push.ValidName([]byte(q.Name)):
			t.Fatalf("parseTopicsQuery(%q) accepted prefix %q", query, q.Name)
		case status != 0 && (status != 400 || reason == ""):
			t.Fatalf("parseTopicsQuery(%q) = %d %q; want 400 with a reason", query, status, reason)
		}
		if n, ok := parseLast(query); ok && (n < 0 || n > maxLast) {
			t.Fatalf("parseLast(%q) = %d; want 0..%d", query, n, maxLast)
		}
	})
}

func TestParseTopicsQuery(t *testing.T) {
	for query, want := range map[string]cluster.Query{
		"":                       {Op: cluster.QueryTopics, Limit: defaultTopicsLimit},
		"prefix=news.&limit=5":   {Op: cluster.QueryTopics, Name: "news.", Limit: 5},
		"limit=1000&prefix=a%2F": {Op: cluster.QueryTopics, Name: "a/", Limit: 1000},
		"other=1":                {Op: cluster.QueryTopics, Limit: defaultTopicsLimit},
	} {
		var q cluster.Query
		if status, reason := parseTopicsQuery(&q, []byte(query)); status != 0 || !reflect.DeepEqual(q, want) {
			t.Errorf("parseTopicsQuery(%q) = %+v, %d %q; want %+v", query, q, status, reason, want)
		}
	}
	for _, query := range []string{"limit=0", "limit=1001", "limit=x", "limit=", "prefix=a%20b", "prefix=%zz"} {
		var q cluster.Query
		if status, _ := parseTopicsQuery(&q, []byte(query)); status != 400 {
			t.Errorf("parseTopicsQuery(%q) = %d; want 400", query, status)
		}
	}
}
