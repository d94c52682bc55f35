package store

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unsafe"

	"github.com/pushwire/pushwire/push"
)

// keyQueue is the ZSET holding user's QoS 1 messages.
func keyQueue(p, user string) string { return p + "q:" + user }

// QoS member encoding. Every member has score 0, so the ZSET orders members bytewise; the
// zero-padded decimal id first makes that id order (ids exceed 2^53 and cannot be scores):
//
//	pad20(id) ':' decimal(expiresAt) ':' flags
//	    uvarint(len(to)) to  uvarint(len(event)) event  uvarint(len(contentType)) contentType
//	    data (the rest)
//
// flags: bit 0 = JSON; the other bits are reserved (a member with any set fails to decode).
// The expiry is decimal text so that putScript can read it.
const qosFlagJSON = 1

var errQoSMember = errors.New("store: malformed stored message")

// appendPad20 appends id as 20 decimal digits (the width of the largest uint64).
func appendPad20(dst []byte, id uint64) []byte {
	var b [20]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + id%10)
		id /= 10
	}
	return append(dst, b[:]...)
}

// appendQoSMember appends m's member encoding to dst: its id (Seq), expiry, address, event,
// content type, JSON flag and data.
func appendQoSMember(dst []byte, m *push.Message) []byte {
	dst = appendPad20(dst, m.Seq)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, max(m.Expiry, 0), 10)
	dst = append(dst, ':')
	var flags byte
	if m.JSON {
		flags |= qosFlagJSON
	}
	dst = append(dst, flags)
	for _, f := range [...][]byte{m.To, m.Event, m.ContentType} {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return append(dst, m.Data...)
}

// decodeQoSMember decodes a member. To, Event and ContentType are views into s (nil when
// empty); Data is a copy (nil when empty). ID, TimeMs and QoS are left zero.
func decodeQoSMember(s string) (push.Message, error) {
	var m push.Message
	if len(s) < 24 || s[20] != ':' {
		return m, errQoSMember
	}
	id, err := strconv.ParseUint(s[:20], 10, 64)
	if err != nil {
		return m, errQoSMember
	}
	m.Seq = id
	s = s[21:]
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return m, errQoSMember
	}
	if m.Expiry, err = strconv.ParseInt(s[:i], 10, 64); err != nil || m.Expiry < 0 {
		return m, errQoSMember
	}
	s = s[i+1:]
	if len(s) == 0 || s[0]&^qosFlagJSON != 0 {
		return m, errQoSMember
	}
	m.JSON = s[0]&qosFlagJSON != 0
	s = s[1:]
	for _, f := range [...]*[]byte{&m.To, &m.Event, &m.ContentType} {
		n, w := uvarintString(s)
		if w <= 0 || n > uint64(len(s)-w) {
			return m, errQoSMember
		}
		if n > 0 {
			*f = unsafe.Slice(unsafe.StringData(s[w:]), n)
		}
		s = s[w+int(n):]
	}
	if len(s) > 0 {
		m.Data = []byte(s)
	}
	return m, nil
}

// uvarintString is binary.Uvarint on a string (no copy).
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
