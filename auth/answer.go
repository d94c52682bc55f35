package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"time"
	"unicode/utf8"
)

// Answer errors. The callback wraps them with its status.
var (
	errAnswerNotObject = errors.New(`body is not a JSON object such as {"user":"42","topics":["news"]}`)
	errAnswerUser      = errors.New(`"user" must be a string`)
	errAnswerTopics    = errors.New(`"topics" must be an array of strings`)
	errAnswerTTL       = errors.New(`"ttl" must be a number of seconds above 0 and at most 315360000 (10 years)`)
)

// maxTTL bounds a callback's "ttl": ten years, past any stream's life and within what the
// server's deadlines can hold.
const maxTTL = 10 * 365 * 24 * time.Hour

// parseAnswer reads the body of a 2xx callback answer. A body that is empty, or that is not JSON
// at all ("OK", as services written for nginx auth_request often answer), carries no identity:
// it allows with no user and any topic. JSON that is not an object ("42", ["news"], null) is an
// error, since the service meant something by it. Otherwise the body is one JSON object whose optional "user" is a
// string (null = no user) and whose optional "topics" is an array of strings: present (even
// empty) it is exactly the allowed patterns; absent, any topic is allowed. "topics": null is an
// error rather than a guess between "none" and "any" (a Go service encodes a nil slice as null).
// An optional "ttl" (a number of seconds, above 0, at most ten years; null = none) limits how long
// the stream it allows may last (→ TTL, to the millisecond).
// Keys are matched exactly; other keys are ignored; a repeated key counts once, the last. The
// identity shares no memory with body.
//
// encoding/json, not sonic: sonic lets invalid escapes inside long strings through
// (testdata/fuzz/FuzzParseAnswer/sonic-lenient-escape), and one answer per subscribe, after an
// HTTP round trip, is not where decoding speed matters.
func parseAnswer(body []byte) (Identity, error) {
	body = bytes.Trim(body, " \t\r\n")
	if len(body) == 0 || body[0] != '{' && !json.Valid(body) {
		return Identity{AnyTopic: true}, nil
	}
	// JSON is UTF-8, and encoding/json would quietly turn bad bytes into U+FFFD: a user id that
	// is not the one the service meant.
	if body[0] != '{' || !utf8.Valid(body) {
		return Identity{}, errAnswerNotObject
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Identity{}, errAnswerNotObject
	}
	var id Identity
	if raw := fields["user"]; len(raw) > 0 && string(raw) != "null" {
		if raw[0] != '"' || json.Unmarshal(raw, &id.User) != nil {
			return Identity{}, errAnswerUser
		}
	}
	if raw := fields["ttl"]; len(raw) > 0 && string(raw) != "null" {
		ttl, err := parseTTL(raw)
		if err != nil {
			return Identity{}, err
		}
		id.TTL = ttl
	}
	raw, ok := fields["topics"]
	if !ok {
		id.AnyTopic = true
		return id, nil
	}
	var topics []*string // a null element stays nil, so it can be told from ""
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &topics) != nil {
		return Identity{}, errAnswerTopics
	}
	id.Topics = make([]string, len(topics)) // present but empty: no topic, not "any"
	for i, t := range topics {
		if t == nil {
			return Identity{}, errAnswerTopics
		}
		id.Topics[i] = *t
	}
	return id, nil
}

// parseTTL reads a callback's "ttl": a JSON number of seconds, above 0 and at most maxTTL,
// rounded to the millisecond (a positive ttl below half a millisecond is one).
func parseTTL(raw json.RawMessage) (time.Duration, error) {
	var secs float64
	if raw[0] == '"' || json.Unmarshal(raw, &secs) != nil || math.IsNaN(secs) || secs <= 0 || secs > maxTTL.Seconds() {
		return 0, errAnswerTTL
	}
	return max(time.Duration(math.Round(secs*1000))*time.Millisecond, time.Millisecond), nil
}
