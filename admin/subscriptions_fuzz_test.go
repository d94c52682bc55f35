package admin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
)

// FuzzSubscriptionsCall feeds arbitrary paths and queries to the parser of
// /subscriptions/ calls: no panic; a call it accepts names a valid user or a
// key that parses, 1-64 valid topics; what it refuses is 400 or 404 with a
// reason.
func FuzzSubscriptionsCall(f *testing.F) {
	for _, seed := range [][2]string{
		{"user/42", "topic=news"},
		{"user/42", "topic=a&topic=b&force=1"},
		{"conn/AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.7783abe38dfc", "topic=x&force=0"},
		{"user/a%2Fb", "topic=%41"},
		{"user/42", ""},
		{"user/42", "topic=a%20b"},
		{"user/42", "force=yes&topic=x"},
		{"group/1", "topic=x"},
		{"user/", "topic=x"},
		{"conn/short", "topic=x"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		var q links.Query
		_, status, reason := ParseSubscriptions(&q, []byte("/subscriptions/"+path), []byte(query), nil)
		switch {
		case status == 0:
			if len(q.Topics) == 0 || len(q.Topics) > links.MaxChangeTopics {
				t.Fatalf("accepted %q?%q with %d topics", path, query, len(q.Topics))
			}
			for _, topic := range q.Topics {
				if !push.ValidName([]byte(topic)) {
					t.Fatalf("accepted %q?%q with topic %q", path, query, topic)
				}
			}
			if q.Conn {
				if _, _, ok := push.ParseConnKey([]byte(q.Name)); !ok || !strings.HasPrefix(path, "conn/") {
					t.Fatalf("accepted %q as a conn key %q", path, q.Name)
				}
			} else if !push.ValidName([]byte(q.Name)) || !strings.HasPrefix(path, "user/") {
				t.Fatalf("accepted %q as user %q", path, q.Name)
			}
		case (status != 400 && status != 404) || reason == "":
			t.Fatalf("parseSubscriptions(%q, %q) = %d %q; want 400 or 404 with a reason", path, query, status, reason)
		}
	})
}

func TestParseSubscriptionsCall(t *testing.T) {
	for _, tc := range []struct {
		path, query string
		want        links.Query
	}{
		{"user/42", "topic=news&topic=chat.1", links.Query{Name: "42", Topics: []string{"news", "chat.1"}}},
		{"user/a%2Fb", "force=1&topic=x", links.Query{Name: "a/b", Force: true, Topics: []string{"x"}}},
		{"user/42", "topic=x&force=true&other=1", links.Query{Name: "42", Force: true, Topics: []string{"x"}}},
		{"conn/AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.n1", "topic=x", links.Query{Name: "AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.n1", Conn: true, Topics: []string{"x"}}},
	} {
		var q links.Query
		if _, status, reason := ParseSubscriptions(&q, []byte("/subscriptions/"+tc.path), []byte(tc.query), nil); status != 0 || !reflect.DeepEqual(q, tc.want) {
			t.Errorf("parseSubscriptions(%q, %q) = %+v, %d %q; want %+v", tc.path, tc.query, q, status, reason, tc.want)
		}
	}
	many := strings.Repeat("topic=t&", links.MaxChangeTopics) + "topic=u"
	for _, tc := range []struct {
		path, query string
		status      int
	}{
		{"user/42", "", 400},
		{"user/42", "force=1", 400},
		{"user/42", "topic=", 400},
		{"user/42", "topic=%zz", 400},
		{"user/42", "topic=x&force=2", 400},
		{"user/42", many, 400},
		{"user/a%20b", "topic=x", 400},
		{"group/42", "topic=x", 404},
		{"user", "topic=x", 404},
		{"conn/nope", "topic=x", 404},
	} {
		var q links.Query
		if _, status, reason := ParseSubscriptions(&q, []byte("/subscriptions/"+tc.path), []byte(tc.query), nil); status != tc.status || reason == "" {
			t.Errorf("parseSubscriptions(%q, %q) = %d %q; want %d with a reason", tc.path, tc.query, status, reason, tc.status)
		}
	}
}
