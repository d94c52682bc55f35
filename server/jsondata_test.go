package server

import (
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
		got := appendCompactJSON(nil, []byte(c.in))
		if string(got) != c.want {
			t.Errorf("appendCompactJSON(%q) = %q; want %q", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("appendCompactJSON(%q) = %q is not valid JSON", c.in, got)
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
		if got := embeddable([]byte(c.ctype), []byte(c.body)); got != c.want {
			t.Errorf("embeddable(%q, %q) = %v; want %v", c.ctype, c.body, got, c.want)
		}
	}
}
