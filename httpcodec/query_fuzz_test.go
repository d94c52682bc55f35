package httpcodec

import (
	"bytes"
	"net/url"
	"testing"
)

// FuzzQuery checks the query helpers against net/url: AppendUnescape must
// accept exactly what url.QueryUnescape accepts and produce the same bytes,
// and QueryEach must hand out exactly the non-empty '&'-separated pairs,
// split at their first '='.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"topic=a&topic=b&user=42", "format=sse&since=17", "a=%41%42+c", "x=%zz", "x=%4", "&&a&=b&c=",
		"t=%E2%82%AC", "k=v=w",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		var got [][2]string
		QueryEach(query, func(key, value []byte) bool {
			got = append(got, [2]string{string(key), string(value)})
			return true
		})
		var want [][2]string
		for _, pair := range bytes.Split(query, []byte("&")) {
			if len(pair) == 0 {
				continue
			}
			k, v, _ := bytes.Cut(pair, []byte("="))
			want = append(want, [2]string{string(k), string(v)})
		}
		if len(got) != len(want) {
			t.Fatalf("QueryEach(%q) gave %d pairs %q; want %d %q", query, len(got), got, len(want), want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("QueryEach(%q) pair %d = %q; want %q", query, i, got[i], want[i])
			}
		}

		out, err := AppendUnescape([]byte("prefix"), query)
		ref, refErr := url.QueryUnescape(string(query))
		switch {
		case (err == nil) != (refErr == nil):
			t.Fatalf("AppendUnescape(%q) err = %v; url.QueryUnescape err = %v", query, err, refErr)
		case err == nil && string(out) != "prefix"+ref:
			t.Fatalf("AppendUnescape(%q) = %q; want %q", query, out[len("prefix"):], ref)
		case err != nil && string(out) != "prefix":
			t.Fatalf("AppendUnescape(%q) failed but changed dst to %q", query, out)
		}
	})
}
