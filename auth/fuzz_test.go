package auth

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseAnswer: parseAnswer never panics; it accepts exactly what stdAnswer accepts, the same way;
// and an identity it returns, encoded again, parses back to itself.
// Seeds: testdata/fuzz/FuzzParseAnswer.
func FuzzParseAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := parseAnswer(body)
		want, ok := stdAnswer(body)
		switch {
		case err != nil && err != errAnswerNotObject && err != errAnswerUser && err != errAnswerTopics && err != errAnswerTTL:
			t.Fatalf("parseAnswer(%q) = %v; want one of its four errors", body, err)
		case (err == nil) != ok:
			t.Fatalf("parseAnswer(%q) = %+v, %v; stdAnswer says ok = %v", body, id, err, ok)
		case err != nil:
			return
		case !sameIdentity(id, want):
			t.Fatalf("parseAnswer(%q) = %+v; stdAnswer reads %+v", body, id, want)
		}
		again, err := parseAnswer(encodeAnswer(t, id))
		if err != nil || !sameIdentity(again, id) {
			t.Fatalf("parseAnswer(%q) = %+v, re-encoded %s parses to %+v, %v", body, id, encodeAnswer(t, id), again, err)
		}
	})
}

// stdAnswer reads a callback answer the long way round: a generic encoding/json tree, then the
// rules checked one by one.
func stdAnswer(body []byte) (Identity, bool) {
	if len(bytes.Trim(body, " \t\r\n")) == 0 { // JSON's whitespace, not Unicode's
		return Identity{AnyTopic: true}, true
	}
	var tree any
	if trimmed := bytes.Trim(body, " \t\r\n"); trimmed[0] != '{' && !json.Valid(trimmed) {
		return Identity{AnyTopic: true}, true // not JSON at all ("OK"): no identity in it
	}
	// UseNumber: a number beyond float64 ({"n":1e700}) is still JSON, as parseAnswer reads it.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if !utf8.Valid(body) || dec.Decode(&tree) != nil || dec.InputOffset() != int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		return Identity{}, false
	}
	fields, ok := tree.(map[string]any)
	if !ok {
		return Identity{}, false
	}
	var id Identity
	switch user := fields["user"].(type) {
	case nil:
	case string:
		id.User = user
	default:
		return Identity{}, false
	}
	switch n := fields["ttl"].(type) {
	case nil:
	case json.Number:
		ttl, err := n.Float64()
		if err != nil || ttl <= 0 || ttl > 315360000 {
			return Identity{}, false
		}
		id.TTL = max(time.Duration(math.Round(ttl*1000))*time.Millisecond, time.Millisecond)
	default:
		return Identity{}, false
	}
	topics, present := fields["topics"]
	if !present {
		id.AnyTopic = true
		return id, true
	}
	list, ok := topics.([]any)
	if !ok {
		return Identity{}, false
	}
	id.Topics = []string{}
	for _, t := range list {
		s, ok := t.(string)
		if !ok {
			return Identity{}, false
		}
		id.Topics = append(id.Topics, s)
	}
	return id, true
}

// encodeAnswer writes id as a callback would answer it.
func encodeAnswer(t *testing.T, id Identity) []byte {
	answer := map[string]any{}
	if id.User != "" {
		answer["user"] = id.User
	}
	if !id.AnyTopic {
		answer["topics"] = id.Topics
	}
	if id.TTL > 0 {
		answer["ttl"] = id.TTL.Seconds()
	}
	b, err := json.Marshal(answer)
	if err != nil {
		t.Fatalf("json.Marshal(%+v) = %v", answer, err)
	}
	return b
}

// sameIdentity compares identities, nil and empty Topics alike.
func sameIdentity(a, b Identity) bool {
	return a.User == b.User && a.AnyTopic == b.AnyTopic && a.TTL == b.TTL && len(a.Topics) == len(b.Topics) &&
		(len(a.Topics) == 0 || reflect.DeepEqual(a.Topics, b.Topics))
}

// FuzzACL: ParseACL and Allows never panic, and Allows and Match agree with refMatch, a
// dynamic-programming glob written independently of glob. templates holds one template a line.
// Seeds: testdata/fuzz/FuzzACL.
func FuzzACL(f *testing.F) {
	f.Fuzz(func(t *testing.T, templates string, user, topic []byte) {
		// Match on arbitrary bytes, using the user as a pattern.
		if got, want := Match(user, topic), refMatch(expandPattern(string(user), "", false), string(topic)); got != want {
			t.Fatalf("Match(%q, %q) = %v; refMatch says %v", user, topic, got, want)
		}
		list := strings.Split(templates, "\n")
		acl, err := ParseACL(list)
		if err != nil {
			return
		}
		want := false
		for _, text := range list {
			if len(user) == 0 && strings.Contains(text, "{user}") {
				continue
			}
			want = want || refMatch(expandPattern(text, string(user), true), string(topic))
		}
		if got := acl.Allows(user, topic); got != want {
			t.Fatalf("ParseACL(%q).Allows(%q, %q) = %v; refMatch says %v", list, user, topic, got, want)
		}
	})
}
