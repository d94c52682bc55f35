package auth

import "testing"

// matchCases hold for Match and, with no {user}, for ACL templates too.
var matchCases = []struct {
	pattern, topic string
	want           bool
}{
	{"news", "news", true},
	{"news", "news2", false},
	{"news", "new", false},
	{"news", "", false},
	{"", "", true},
	{"", "a", false},
	{"*", "", true},
	{"*", "anything.at.all", true},
	{"**", "", true},
	{"*news", "news", true}, // star at start, empty run
	{"*news", "breaking.news", true},
	{"*news", "news.x", false},
	{"news*", "news", true},       // star at end, empty run
	{"news*", "news.sport", true}, // dots included
	{"news*", "new", false},
	{"a*c", "ac", true}, // star in the middle
	{"a*c", "abbbc", true},
	{"a*c", "abcd", false},
	{"a*b*c", "abc", true}, // several stars
	{"a*b*c", "a.b.c", true},
	{"a*b*c", "acb", false},
	{"a*b*c", "abcbc", true}, // the last segment is a suffix, not the first c
	{"*a*", "bab", true},
	{"*a*", "bbb", false},
	{"a*a", "a", false}, // the two segments may not overlap
	{"a*a", "aa", true},
	{"*.*.*", "a.b", false},
	{"*.*.*", "..", true},
	{"user.*.x", "user.1.2.x", true},
	{"ab*ab*ab", "ababab", true},
	{"ab*ab*ab", "ababa", false},
	{"x\x00y", "x\x00y", true}, // a zero byte is an ordinary byte outside ACL templates
	{"x\x00y", "xy", false},
	{"\xff*", "\xff\xfe", true},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, c := range matchCases {
		if got := Match([]byte(c.pattern), []byte(c.topic)); got != c.want {
			t.Errorf("Match(%q, %q) = %v; want %v", c.pattern, c.topic, got, c.want)
		}
		if got := refMatch(expandPattern(c.pattern, "", false), c.topic); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v; want %v (the test's reference is wrong)", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestIdentityAllows(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id    Identity
		topic string
		want  bool
	}{
		{Identity{}, "news", false},
		{Identity{AnyTopic: true}, "news", true},
		{Identity{AnyTopic: true}, "", true},
		{Identity{Topics: []string{}}, "news", false},
		{Identity{Topics: []string{"sport", "news"}}, "news", true},
		{Identity{Topics: []string{"sport", "news"}}, "weather", false},
		{Identity{User: "42", Topics: []string{"user.42.*"}}, "user.42.inbox", true},
		{Identity{User: "42", Topics: []string{"user.42.*"}}, "user.43.inbox", false},
		{Identity{Topics: []string{""}}, "", true},
	} {
		if got := c.id.Allows([]byte(c.topic)); got != c.want {
			t.Errorf("%+v.Allows(%q) = %v; want %v", c.id, c.topic, got, c.want)
		}
	}
}

// refElem is one element of an expanded pattern: a byte, or a star when star is set.
type refElem struct {
	b    byte
	star bool
}

// expandPattern turns a pattern (with "{user}" put in for user when acl is set) into elements.
func expandPattern(pattern, user string, acl bool) []refElem {
	var out []refElem
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '*':
			out = append(out, refElem{star: true})
		case acl && pattern[i] == '{': // ParseACL accepted it, so it begins "{user}"
			for j := 0; j < len(user); j++ {
				out = append(out, refElem{b: user[j]})
			}
			i += len("{user}") - 1
		default:
			out = append(out, refElem{b: pattern[i]})
		}
	}
	return out
}

// refMatch is the textbook dynamic-programming glob match, written independently of glob:
// ok[j] says whether the elements seen so far match topic[:j].
func refMatch(pattern []refElem, topic string) bool {
	ok := make([]bool, len(topic)+1)
	ok[0] = true
	for _, e := range pattern {
		next := make([]bool, len(topic)+1)
		for j := range next {
			switch {
			case e.star:
				next[j] = ok[j] || j > 0 && next[j-1]
			case j > 0:
				next[j] = ok[j-1] && topic[j-1] == e.b
			}
		}
		ok = next
	}
	return ok[len(topic)]
}
