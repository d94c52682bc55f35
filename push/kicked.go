package push

import "strconv"

// The kicked control frame (SPEC §3): a stream ended by DELETE /conn/<key>
// (or, later, the per-user connection policy) ends with
// {"protocol":3,"time":<ms>,"cmd":"kicked"} (SSE: event: kicked), so the
// client knows it was ended on purpose and need not reconnect at once.

var eventKicked = []byte("kicked")

// AppendKickedFrame appends the kicked control frame in format f. It
// allocates nothing.
func AppendKickedFrame(dst []byte, f Format, timeMs int64, boundary []byte) []byte {
	var packet [64]byte
	p := append(packet[:0], `{"protocol":3,"time":`...)
	p = strconv.AppendInt(p, timeMs, 10)
	p = append(p, `,"cmd":"kicked"}`...)
	return appendPacketFrame(dst, f, eventKicked, p, boundary)
}
