package auth

import (
	"strings"
	"testing"
)

func TestACLAllows(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		templates   []string
		user, topic string
		want        bool
	}{
		{[]string{"user.{user}.*"}, "42", "user.42.inbox", true},
		{[]string{"user.{user}.*"}, "42", "user.42.", true},
		{[]string{"user.{user}.*"}, "42", "user.42", false},
		{[]string{"user.{user}.*"}, "42", "user.43.inbox", false},
		{[]string{"user.{user}.*"}, "4", "user.42.inbox", false},
		{[]string{"user.{user}.*"}, "", "user..inbox", false}, // no user: a {user} template never matches
		{[]string{"user.{user}"}, "", "user.", false},
		{[]string{"{user}"}, "", "", false},
		// A user is bytes, never a pattern.
		{[]string{"user.{user}.*"}, "*", "user.42.inbox", false},
		{[]string{"user.{user}.*"}, "*", "user.*.inbox", true},
		{[]string{"user.{user}"}, "a.*", "user.a.b", false},
		{[]string{"user.{user}"}, "a.*", "user.a.*", true},
		{[]string{"user.{user}"}, "{user}", "user.x", false},
		{[]string{"user.{user}"}, "{user}", "user.{user}", true},
		{[]string{"user.{user}"}, "\x00", "user.\x00", true},
		{[]string{"user.{user}"}, "\x00", "user.x", false},
		// {user} more than once, next to stars, at either end.
		{[]string{"{user}.*.{user}"}, "ab", "ab.x.ab", true},
		{[]string{"{user}.*.{user}"}, "ab", "ab.x.ac", false},
		{[]string{"{user}.*.{user}"}, "ab", "ab.ab", false},
		{[]string{"*{user}*"}, "ab", "xxabxx", true},
		{[]string{"*{user}*"}, "ab", "xxaxbx", false},
		{[]string{"*.{user}"}, "ab", "x.y.ab", true},
		{[]string{"a*{user}b*{user}"}, "u", "a.ub.u", true},
		{[]string{"a*{user}b*{user}"}, "u", "a.ubu", true},
		{[]string{"a*{user}b*{user}"}, "u", "a.ub", false},
		{[]string{"{user}{user}"}, "ab", "abab", true},
		// Templates without {user} apply to everyone, no user included.
		{[]string{"news"}, "", "news", true},
		{[]string{"news.*"}, "42", "news.sport", true},
		{[]string{"news.*"}, "42", "sport", false},
		{[]string{"news", "user.{user}.*"}, "7", "user.7.x", true},
		{[]string{"news", "user.{user}.*"}, "7", "news", true},
		{[]string{"news", "user.{user}.*"}, "7", "weather", false},
		{nil, "7", "news", false},
		{[]string{}, "", "", false},
	} {
		acl, err := ParseACL(c.templates)
		if err != nil {
			t.Fatalf("ParseACL(%q) = %v", c.templates, err)
		}
		if got := acl.Allows([]byte(c.user), []byte(c.topic)); got != c.want {
			t.Errorf("ParseACL(%q).Allows(%q, %q) = %v; want %v", c.templates, c.user, c.topic, got, c.want)
		}
		if acl.Len() != len(c.templates) {
			t.Errorf("ParseACL(%q).Len() = %d; want %d", c.templates, acl.Len(), len(c.templates))
		}
	}
}

// TestACLMatchesLikeMatch: a template without {user} is a Match pattern.
func TestACLMatchesLikeMatch(t *testing.T) {
	t.Parallel()
	for _, c := range matchCases {
		acl, err := ParseACL([]string{c.pattern})
		if err != nil {
			continue // empty or not printable: not a template
		}
		if got := acl.Allows([]byte("u"), []byte(c.topic)); got != c.want {
			t.Errorf("ParseACL(%q).Allows(u, %q) = %v; want %v as Match", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestNilACL(t *testing.T) {
	t.Parallel()
	var acl *ACL
	if acl.Allows([]byte("u"), []byte("t")) || acl.Len() != 0 {
		t.Errorf("nil ACL: Allows = true or Len = %d; want false, 0", acl.Len())
	}
}

func TestParseACLErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		templates []string
		want      string // the error says this
	}{
		{[]string{""}, `empty template; give a topic pattern such as "user.{user}.*"`},
		{[]string{"news", ""}, "empty template"},
		{[]string{"user {user}"}, `template "user {user}" has a space at byte 4; templates are printable ASCII without spaces`},
		{[]string{"a\tb"}, `has a tab at byte 1`},
		{[]string{"a\nb"}, `has 0x0a at byte 1`},
		{[]string{"caf\xc3\xa9"}, `has 0xc3 at byte 3`},
		{[]string{"a\x7f"}, `has 0x7f at byte 1`},
		{[]string{"user.{id}.*"}, `template "user.{id}.*": the "{" at byte 5 does not begin "{user}", the only placeholder`},
		{[]string{"user.{USER}"}, `does not begin "{user}"`},
		{[]string{"user.{user"}, `does not begin "{user}"`},
		{[]string{"user.{"}, `does not begin "{user}"`},
		{[]string{"user.user}"}, `template "user.user}": the "}" at byte 9 closes no "{user}"`},
		{[]string{"{user}}"}, `the "}" at byte 6 closes no "{user}"`},
		{[]string{strings.Repeat("a", 257)}, `"... is 257 bytes; at most 256`},
	} {
		acl, err := ParseACL(c.templates)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseACL(%.60q) = %v, %v; want an error containing %q", c.templates, acl, err, c.want)
		}
	}
	if _, err := ParseACL([]string{strings.Repeat("a", 256), "{user}", "*", "!#$%&'()*+,-./:;<=>?@[\\]^_`|~"}); err != nil {
		t.Errorf("ParseACL(256 bytes, {user}, *, punctuation) = %v; want nil", err)
	}
}
