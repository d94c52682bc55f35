package httpcodec

import (
	"encoding/binary"
	"unicode/utf8"
)

// AppendJSONString appends s as a quoted JSON string. It is valid JSON for
// any input: quote, backslash and control bytes are escaped, invalid UTF-8
// becomes U+FFFD, and U+2028/U+2029 are escaped so the output is also safe
// inside JavaScript source. '<', '>' and '&' are left alone: the output goes
// to JSON parsers, never into HTML.
//
// It is on the push hot path (every non-JSON payload passes through it), so
// it copies runs of safe ASCII with one append and decodes UTF-8 only for
// bytes >= 0x80. BenchmarkJSONString compares it with sonic's encoder: ours
// is faster on short strings and never allocates, sonic is faster on long
// ones but allocates per call; the figures and the reasoning are recorded there.
func AppendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight safe ASCII bytes at a time: most payload text is.
		for i+8 <= len(s) && safeJSONWord(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if byteClass[c]&classJSON != 0 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// safeJSONWord reports whether none of the eight bytes in w needs escaping
// or UTF-8 decoding: no byte below 0x20, none equal to '"' or '\\', none with
// the high bit set. It uses the classic SWAR zero-byte tests.
func safeJSONWord(w uint64) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	below := (w - lo*0x20) &^ w // high bit set where a byte < 0x20 (or >= 0x80)
	quote := w ^ (lo * '"')     // zero byte where '"'
	slash := w ^ (lo * '\\')    // zero byte where '\\'
	zeros := (quote-lo)&^quote | (slash-lo)&^slash
	return (below|zeros|w)&hi == 0
}
