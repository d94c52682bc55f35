package push

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendCompactJSONKeepsTheValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{\n  \"a\": 1,\r\n  \"b\": [1,\t2]\n}", `{"a":1,"b":[1,2]}`},
		{`"a b\" c \\"`, `"a b\" c \\"`},
		{" [ ] ", `[]`},
		{`{"s":"line\nbreak","t":" "}`, `{"s":"line\nbreak","t":" "}`},
	} {
		got := AppendCompactJSON(nil, []byte(c.in))
		if string(got) != c.want {
			t.Errorf("AppendCompactJSON(%q) = %q; want %q", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("AppendCompactJSON(%q) = %q is not valid JSON", c.in, got)
		}
	}
}

func TestEmbeddableNeedsJSONTypeValidJSONAndUTF8(t *testing.T) {
	for _, c := range []struct {
		ctype, body string
		want        bool
	}{
		{"application/json", `{"a":1}`, true},
		{"application/json; charset=utf-8", `[1]`, true},
		{"text/plain", `{"a":1}`, false},
		{"application/json", `{"a":`, false},
		{"application/json", "\"a\xffb\"", false},
	} {
		if got := Embeddable([]byte(c.ctype), []byte(c.body)); got != c.want {
			t.Errorf("Embeddable(%q, %q) = %v; want %v", c.ctype, c.body, got, c.want)
		}
	}
}

// FuzzCompactJSON: for valid JSON, AppendCompactJSON gives what
// encoding/json.Compact gives: the same value on one line.
func FuzzCompactJSON(f *testing.F) {
	for _, seed := range []string{"{\n  \"a\": 1,\r\n  \"b\": [1,\t2]\n}", `" a \" b "`, `[ ]`, `{"s":"x\ny"}`, ` 12 `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if !json.Valid(src) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, src); err != nil {
			t.Fatalf("json.Compact(%q): %v", src, err)
		}
		if got := AppendCompactJSON(nil, src); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("AppendCompactJSON(%q) = %q; want %q", src, got, want.Bytes())
		}
	})
}
