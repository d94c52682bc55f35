package auth

import (
	"bytes"
	"time"
	"unsafe"
)

// Identity is who a subscriber is, as auth established it.
type Identity struct {
	User     string   // "" = no user
	Topics   []string // allowed topic patterns (see Match)
	AnyTopic bool     // the callback allowed without naming topics: any topic asked for is allowed

	// How long a stream this identity allowed may last (SPEC §3 refresh): a token's "exp"
	// (Expires), or a callback's "ttl" (TTL, counted from its answer). Zero = no limit.
	Expires time.Time
	TTL     time.Duration
}

// Allows reports whether the identity may subscribe to topic: AnyTopic, or some pattern in
// Topics matches it. It does not allocate.
func (id Identity) Allows(topic []byte) bool {
	if id.AnyTopic {
		return true
	}
	for _, pattern := range id.Topics {
		if Match(stringBytes(pattern), topic) {
			return true
		}
	}
	return false
}

// Match reports whether topic matches pattern: '*' matches any run of bytes (empty included,
// dots included); every other byte matches itself. It does not allocate.
func Match(pattern, topic []byte) bool {
	return glob(pattern, topic, nil, false)
}

// userMark stands for {user} in a compiled ACL template. Templates are printable ASCII, so no
// template byte is ever mistaken for it; Match never expands it, so a zero byte in a pattern
// from a token or a callback is an ordinary byte.
const userMark = 0

// glob reports whether topic matches pattern: '*' matches any run of bytes, userMark (only when
// expand is set) matches exactly the bytes of user, and every other byte matches itself. The
// bytes of user are compared, never interpreted, so a user named "*" widens nothing.
//
// Between its stars a pattern is a fixed string once user is put in, so the first segment must be
// a prefix of topic, the last a suffix, and each middle one can be taken at its leftmost
// occurrence: a later occurrence leaves less room for the segments after it, never more. One pass,
// no backtracking.
func glob(pattern, topic, user []byte, expand bool) bool {
	seg, rest, more := bytes.Cut(pattern, star)
	n, ok := matchPrefix(seg, topic, user, expand)
	if !ok {
		return false
	}
	if !more {
		return n == len(topic)
	}
	topic = topic[n:]
	for {
		seg, rest, more = bytes.Cut(rest, star)
		if !more {
			return matchSuffix(seg, topic, user, expand)
		}
		i, n := index(seg, topic, user, expand)
		if i < 0 {
			return false
		}
		topic = topic[i+n:]
	}
}

// star separates a pattern's pieces.
var star = []byte("*")

// matchPrefix reports whether seg (a pattern piece without stars) matches the start of topic,
// and how many topic bytes it covers.
func matchPrefix(seg, topic, user []byte, expand bool) (n int, ok bool) {
	if !expand {
		return len(seg), bytes.HasPrefix(topic, seg)
	}
	for _, b := range seg {
		if b == userMark {
			if !bytes.HasPrefix(topic[n:], user) {
				return 0, false
			}
			n += len(user)
			continue
		}
		if n == len(topic) || topic[n] != b {
			return 0, false
		}
		n++
	}
	return n, true
}

// matchSuffix reports whether seg matches the whole end of topic.
func matchSuffix(seg, topic, user []byte, expand bool) bool {
	size := len(seg)
	if expand {
		for _, b := range seg {
			if b == userMark {
				size += len(user) - 1
			}
		}
	}
	if size > len(topic) {
		return false
	}
	_, ok := matchPrefix(seg, topic[len(topic)-size:], user, expand)
	return ok
}

// index returns where seg first matches in topic and how many bytes it covers, or -1.
func index(seg, topic, user []byte, expand bool) (at, n int) {
	if !expand || bytes.IndexByte(seg, userMark) < 0 {
		return bytes.Index(topic, seg), len(seg)
	}
	for at = 0; at <= len(topic); at++ {
		if n, ok := matchPrefix(seg, topic[at:], user, expand); ok {
			return at, n
		}
	}
	return -1, 0
}

// stringBytes returns the bytes of s without copying. Callers only read them: a string's bytes
// are immutable.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
