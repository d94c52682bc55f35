package push

import (
	"bytes"
	"testing"
)

// FuzzAddress: ParseAddress never panics, and what it accepts has a kind and
// a valid name (or is "all"), the name AddressName cuts knowing the kind.
func FuzzAddress(f *testing.F) {
	for _, seed := range []string{"user:42", "topic:news", "conn:abc.n", "all", "user:", ":x", "topic:a b", "users:1"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, to []byte) {
		kind, name, ok := ParseAddress(to)
		if !ok {
			return
		}
		if got, ok := AddressName(to, kind); !ok || string(got) != string(name) {
			t.Fatalf("AddressName(%q, %v) = %q, %v; want %q, true (ParseAddress's name)", to, kind, got, ok, name)
		}
		if kind == All {
			if string(to) != "all" {
				t.Fatalf("ParseAddress(%q) = all", to)
			}
			return
		}
		if !ValidName(name) || !bytes.HasPrefix(to, []byte(kind.String()+":")) {
			t.Fatalf("ParseAddress(%q) = %v %q", to, kind, name)
		}
	})
}
