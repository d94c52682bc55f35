package publish

import (
	"testing"

	"github.com/pushwire/pushwire/push"
)

// TestParsePath: the four address kinds, escapes, and what is refused.
func TestParsePath(t *testing.T) {
	for path, want := range map[string]struct {
		kind push.Kind
		name string
	}{
		"/pub/all":            {push.All, ""},
		"/pub/topic/news":     {push.Topic, "news"},
		"/pub/user/a%2Fb":     {push.User, "a/b"},
		"/pub/conn/k1.node-a": {push.Conn, "k1.node-a"},
	} {
		var p Request
		if _, reason := ParsePath(&p, []byte(path), nil); reason != "" || p.Kind != want.kind || string(p.Name) != want.name {
			t.Errorf("ParsePath(%q) = %v %q, %q; want %v %q", path, p.Kind, p.Name, reason, want.kind, want.name)
		}
	}
	for _, path := range []string{"/pubx", "/pub/all/x", "/pub/topic", "/pub/topic/", "/pub/nope/x", "/pub/topic/a%zz", "/pub/topic/a%20b"} {
		var p Request
		if _, reason := ParsePath(&p, []byte(path), nil); reason == "" {
			t.Errorf("ParsePath(%q) accepted %v %q; want a reason", path, p.Kind, p.Name)
		}
	}
}

// FuzzParsePath: any path the api router sends here ("/pub" and more) is
// read without a panic, and an accepted name obeys the name rules.
func FuzzParsePath(f *testing.F) {
	for _, seed := range []string{"/pub/all", "/pub/topic/news", "/pub/user/a%2Fb", "/pubx", "/pub/topic/%zz", "/pub//"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		if len(path) <= len("/pub") {
			return
		}
		path = append([]byte("/pub"), path[len("/pub"):]...)
		var p Request
		if _, reason := ParsePath(&p, path, nil); reason == "" && p.Kind != push.All && !push.ValidName(p.Name) {
			t.Fatalf("ParsePath(%q) accepted name %q", path, p.Name)
		}
	})
}
