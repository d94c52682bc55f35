package admin

import (
	"reflect"
	"testing"

	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
)

// FuzzPresenceQuery feeds arbitrary query strings to /topics' parser: no
// panic, and what it accepts is in range (?last='s parser: FuzzLastQuery,
// server/gap_fuzz_test.go).
func FuzzPresenceQuery(f *testing.F) {
	for _, seed := range []string{"", "prefix=news&limit=10", "limit=0", "limit=1001", "prefix=%zz", "prefix=a%20b",
		"limit=5&limit=7", "prefix=&limit=1", "last=3", "last=-1", "limit=99999999999999999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		var q links.Query
		status, reason := ParseTopicsQuery(&q, query)
		switch {
		case status == 0 && (q.Limit < 1 || q.Limit > links.MaxQueryLimit):
			t.Fatalf("ParseTopicsQuery(%q) accepted limit %d", query, q.Limit)
		case status == 0 && q.Name != "" && !push.ValidName([]byte(q.Name)):
			t.Fatalf("ParseTopicsQuery(%q) accepted prefix %q", query, q.Name)
		case status != 0 && (status != 400 || reason == ""):
			t.Fatalf("ParseTopicsQuery(%q) = %d %q; want 400 with a reason", query, status, reason)
		}
	})
}

func TestParseTopicsQuery(t *testing.T) {
	for query, want := range map[string]links.Query{
		"":                       {Op: links.QueryTopics, Limit: defaultTopicsLimit},
		"prefix=news.&limit=5":   {Op: links.QueryTopics, Name: "news.", Limit: 5},
		"limit=1000&prefix=a%2F": {Op: links.QueryTopics, Name: "a/", Limit: 1000},
		"other=1":                {Op: links.QueryTopics, Limit: defaultTopicsLimit},
	} {
		var q links.Query
		if status, reason := ParseTopicsQuery(&q, []byte(query)); status != 0 || !reflect.DeepEqual(q, want) {
			t.Errorf("ParseTopicsQuery(%q) = %+v, %d %q; want %+v", query, q, status, reason, want)
		}
	}
	for _, query := range []string{"limit=0", "limit=1001", "limit=x", "limit=", "prefix=a%20b", "prefix=%zz"} {
		var q links.Query
		if status, _ := ParseTopicsQuery(&q, []byte(query)); status != 400 {
			t.Errorf("ParseTopicsQuery(%q) = %d; want 400", query, status)
		}
	}
}
