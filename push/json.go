package push

import (
	"bytes"
	"unicode/utf8"

	"github.com/bytedance/sonic"
)

// Embeddable reports whether a published body is embedded as JSON in the
// frames (SPEC §3): sent as application/json, valid JSON, and valid UTF-8
// (sonic.Valid accepts invalid UTF-8 inside strings; a packet must not carry
// it).
func Embeddable(ctype, body []byte) bool {
	return isJSONType(ctype) && sonic.Valid(body) && utf8.Valid(body)
}

// AppendCompactJSON appends valid JSON src without the whitespace between
// tokens. An NDJSON packet is one line, so a pretty-printed body must lose
// its newlines before it is embedded; the value is unchanged.
func AppendCompactJSON(dst, src []byte) []byte {
	if !hasJSONSpace(src) { // the common case: one copy, no state machine
		return append(dst, src...)
	}
	inString, escaped := false, false
	start := 0
	for i, b := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

// hasJSONSpace reports whether b holds any byte JSON counts as whitespace.
func hasJSONSpace(b []byte) bool {
	for _, c := range b {
		if c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			return true
		}
	}
	return false
}

// isJSONType reports an application/json Content-Type (parameters allowed).
func isJSONType(ctype []byte) bool {
	mt, _, _ := bytes.Cut(ctype, []byte(";"))
	return bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/json"))
}
