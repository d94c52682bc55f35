package header

import "strings"

// Response header blocks are encoded without indexing (RFC 7541 §6.2.2):
// our side keeps no dynamic table, so a connection holds no encoder state.
// Names the static table knows are sent by index, everything else as raw
// literals (no Huffman: a few bytes more on rare responses, no CPU).
// BenchmarkEncodeHeaders compares this with hpack.Encoder at table size 0.

// TableSizeZero is the dynamic table size update to 0 (RFC 7541 §6.3) that
// opens a connection's first block: it tells the peer our table holds
// nothing, whatever SETTINGS_HEADER_TABLE_SIZE it sent.
const TableSizeZero = 0x20

// AppendStatus starts a response header block with :status (a status out of
// 100-999 is sent as 500).
func AppendStatus(dst []byte, status int) []byte {
	for _, st := range staticStatus {
		if st.code == status {
			return append(dst, 0x80|st.index) // indexed field
		}
	}
	if status < 100 || status > 999 {
		status = 500
	}
	// Literal without indexing, name :status (static index 8), 3 digits.
	return append(dst, 0x08, 3, byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10))
}

// staticStatus: the :status values with their own static table entry
// (RFC 7541 Appendix A, indices 8-14).
var staticStatus = [...]struct {
	code  int
	index byte
}{{200, 8}, {204, 9}, {206, 10}, {304, 11}, {400, 12}, {404, 13}, {500, 14}}

// AppendField appends one field as a literal without indexing, its name
// lowercased. Fields that are connection-specific on HTTP/1.1 are dropped:
// they are malformed on HTTP/2 (RFC 9113 §8.2.2) and the HTTP/1.1 writer's
// lists may carry them.
func AppendField(dst []byte, name, value string) []byte {
	if connectionSpecific(name) {
		return dst
	}
	if idx := staticNameIndex(name); idx > 0 {
		dst = appendVarInt(dst, 4, 0, uint64(idx))
	} else {
		dst = append(dst, 0)
		dst = appendVarInt(dst, 7, 0, uint64(len(name)))
		for i := 0; i < len(name); i++ {
			b := name[i]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
		}
	}
	dst = appendVarInt(dst, 7, 0, uint64(len(value)))
	return append(dst, value...)
}

// appendVarInt appends an HPACK integer with an n-bit prefix (RFC 7541 §5.1)
// after the given high bits.
func appendVarInt(dst []byte, n uint, high byte, v uint64) []byte {
	k := uint64(1)<<n - 1
	if v < k {
		return append(dst, high|byte(v))
	}
	dst = append(dst, high|byte(k))
	v -= k
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

// connectionSpecific reports whether name is one of the HTTP/1.1 fields
// RFC 9113 §8.2.2 forbids, in any case: names come from HTTP/1.1 answers,
// which write them capitalized ("Connection: close").
func connectionSpecific(name string) bool {
	switch len(name) {
	case 7:
		return strings.EqualFold(name, "upgrade")
	case 10:
		return strings.EqualFold(name, "connection") || strings.EqualFold(name, "keep-alive")
	case 16:
		return strings.EqualFold(name, "proxy-connection")
	case 17:
		return strings.EqualFold(name, "transfer-encoding")
	}
	return false
}

// staticNameIndex returns the RFC 7541 Appendix A index of a lowercase
// name pushwire's responses use, 0 for others.
func staticNameIndex(name string) int {
	switch name {
	case "access-control-allow-origin":
		return 20
	case "allow":
		return 22
	case "cache-control":
		return 24
	case "content-encoding":
		return 26
	case "content-length":
		return 28
	case "content-type":
		return 31
	case "date":
		return 33
	case "etag":
		return 34
	case "expires":
		return 36
	case "last-modified":
		return 44
	case "location":
		return 46
	case "retry-after":
		return 53
	case "server":
		return 54
	case "set-cookie":
		return 55
	case "vary":
		return 59
	case "www-authenticate":
		return 61
	}
	return 0
}
