package push

import "strconv"

// The gap control frame (SPEC §3): a resumed stream whose cursor is older
// than anything the server still holds for it starts with
// {"protocol":3,"time":<ms>,"cmd":"gap","since":"<id>"}, so the client knows
// it missed messages (SSE: event: gap).

var eventGap = []byte("gap")

// AppendGapFrame appends the gap control frame for a resume from since, in
// format f; for Poll, the packet alone (the first entry of an answer's
// "messages"). It allocates nothing.
func AppendGapFrame(dst []byte, f Format, timeMs int64, since uint64, boundary []byte) []byte {
	var packet [96]byte
	p := append(packet[:0], `{"protocol":3,"time":`...)
	p = strconv.AppendInt(p, timeMs, 10)
	p = append(p, `,"cmd":"gap","since":"`...)
	p = strconv.AppendUint(p, since, 10)
	p = append(p, `"}`...)
	if f == Poll {
		return append(dst, p...)
	}
	return appendPacketFrame(dst, f, eventGap, p, boundary)
}
