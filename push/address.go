package push

import "bytes"

// Kind is the kind of address a push goes to (SPEC §1): "conn:<key>",
// "user:<id>", "topic:<name>" or "all".
type Kind uint8

const (
	Conn Kind = iota
	User
	Topic
	All
)

var kindNames = [...]string{Conn: "conn", User: "user", Topic: "topic", All: "all"}

// String is the kind as an address spells it: "conn", "user", "topic", "all".
func (k Kind) String() string { return kindNames[k] }

// ParseKind reads a kind's name, as in /pub/<kind>/<name>.
func ParseKind(name []byte) (Kind, bool) {
	for k, n := range kindNames {
		if string(name) == n {
			return Kind(k), true
		}
	}
	return 0, false
}

// AppendAddress appends the text form of an address: "kind:name", or "all".
func AppendAddress(dst []byte, k Kind, name []byte) []byte {
	if k == All {
		return append(dst, "all"...)
	}
	dst = append(append(dst, kindNames[k]...), ':')
	return append(dst, name...)
}

// ParseAddress splits the text form of an address, "kind:name" (or "all");
// the name is a view into to.
func ParseAddress(to []byte) (Kind, []byte, bool) {
	if string(to) == "all" {
		return All, nil, true
	}
	kind, name, ok := bytes.Cut(to, []byte(":"))
	if !ok {
		return 0, nil, false
	}
	k, ok := ParseKind(kind)
	if !ok || k == All || !ValidName(name) {
		return 0, nil, false
	}
	return k, name, true
}

// AddressName returns the name of an address whose kind is known, a view
// into to; false when to is not an address of that kind. Names are not
// checked again: the node that took the publish did (ParseAddress).
func AddressName(to []byte, k Kind) ([]byte, bool) {
	if k == All {
		return nil, string(to) == "all"
	}
	prefix := kindNames[k]
	if len(to) <= len(prefix) || string(to[:len(prefix)]) != prefix || to[len(prefix)] != ':' {
		return nil, false
	}
	return to[len(prefix)+1:], true
}

// UserOf returns the user of a "user:<id>" address, a view into to.
func UserOf(to []byte) ([]byte, bool) {
	if len(to) > len("user:") && string(to[:len("user:")]) == "user:" {
		return to[len("user:"):], true
	}
	return nil, false
}

// ValidName reports whether a user or topic name (or an event name) is
// acceptable: printable, no spaces or control bytes, at most 256 bytes.
// Bytes of multi-byte UTF-8 characters are all above 0x7f, so a byte loop is
// exact (and, on every publish, cheaper than decoding runes).
func ValidName(b []byte) bool {
	if len(b) == 0 || len(b) > 256 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
