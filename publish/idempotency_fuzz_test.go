package publish

import (
	"encoding/json"
	"testing"

	"github.com/pushwire/pushwire/admit"
)

// FuzzStoredAnswer feeds claimedResult what a key may hold in Redis — the
// server's own "<status> <JSON>" or anything another writer put there — and
// wants a clear answer, never a panic, and valid JSON out of every answer
// it accepts (single and batch forms).
func FuzzStoredAnswer(f *testing.F) {
	for _, seed := range []string{
		`200 {"id":"1","delivered":1,"nodes":1,"stored":false}`,
		`202 {"id":"2","delivered":0,"nodes":0,"stored":true,"unreachable":["a"]}`,
		`200 {}`, `200 {`, `200`, ` {}`, `abc {}`, ``, `200 }{`, "200 {\"id\":\"\\u00e9\"}",
	} {
		f.Add([]byte(seed))
	}
	s := &Publisher{}
	f.Fuzz(func(t *testing.T, stored []byte) {
		r := s.claimedResult(admit.Claim{Answer: stored})
		if r.Raw == nil {
			if r.Status != 503 || r.Err == "" {
				t.Fatalf("claimedResult(%q) = %+v; want the answer or a 503 with an error", stored, r)
			}
			return
		}
		if !r.Duplicate {
			t.Fatalf("claimedResult(%q) = %+v; want duplicate", stored, r)
		}
		if !json.Valid(r.Raw) {
			return // not ours: written back as is, like any stored bytes
		}
		for _, batch := range []bool{false, true} {
			out := AppendResult(nil, &r, batch)
			if !json.Valid(out) {
				t.Fatalf("stored %q written (batch %v) as %q: not JSON", stored, batch, out)
			}
		}
	})
}
