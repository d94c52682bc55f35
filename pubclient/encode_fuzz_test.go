package pubclient

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAppendJSONString: the encoder's output is one valid JSON string that
// decodes to the input (invalid UTF-8 decoding to U+FFFD, as encoding/json
// does), so no address, event or key can break out of its batch line.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "user:42", `a"b\c`, "line\nbreak\x00\x1f", "héllo ✓", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString([]byte("x"), s)[1:]
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: not JSON: %v", s, out, err)
		}
		// Each invalid byte becomes U+FFFD, as encoding/json does it.
		var want strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += n
		}
		if back != want.String() {
			t.Fatalf("appendJSONString(%q) decodes to %q; want %q", s, back, want.String())
		}
	})
}

// TestBatchLineIsJSON: every field lands in one JSON object line.
func TestBatchLineIsJSON(t *testing.T) {
	line := appendBatchLine(nil, &BatchMessage{To: "user:\"x\"", Data: json.RawMessage(`{"a":[1,2]}`),
		Event: "e\n", QoS: 1, TTL: 90e9, IdempotencyKey: "k-1"})
	if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
		t.Fatalf("line %q is not one line", line)
	}
	var got struct {
		To    string          `json:"to"`
		Data  json.RawMessage `json:"data"`
		Event string          `json:"event"`
		QoS   int             `json:"qos"`
		TTL   int             `json:"ttl"`
		Key   string          `json:"idempotency_key"`
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if got.To != `user:"x"` || string(got.Data) != `{"a":[1,2]}` || got.Event != "e\n" || got.QoS != 1 || got.TTL != 90 || got.Key != "k-1" {
		t.Errorf("line %q decodes to %+v", line, got)
	}
}
