package subscribe

import "testing"

// FuzzLastQuery feeds arbitrary query strings to ?last='s parser: no panic,
// and what it accepts is in range. (It was part of FuzzPresenceQuery, with
// the same seeds, before /topics' parser moved to admin/.)
func FuzzLastQuery(f *testing.F) {
	for _, seed := range []string{"", "prefix=news&limit=10", "limit=0", "limit=1001", "prefix=%zz", "prefix=a%20b",
		"limit=5&limit=7", "prefix=&limit=1", "last=3", "last=-1", "limit=99999999999999999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		if n, ok := parseLast(query); ok && (n < 0 || n > maxLast) {
			t.Fatalf("parseLast(%q) = %d; want 0..%d", query, n, maxLast)
		}
	})
}
