package push

import "strconv"

// The refresh control frame (SPEC §3): a stream whose token (its "exp") or
// auth callback "ttl" ends within --refresh-before gets
// {"protocol":3,"time":<ms>,"cmd":"refresh","exp":<unix ms>} (SSE: event:
// refresh): reconnect with a new token, resuming from the last id; the
// stream is closed at exp.

var eventRefresh = []byte("refresh")

// AppendRefreshFrame appends the refresh control frame in format f; expMs is
// when the stream will be closed (unix ms). It allocates nothing.
func AppendRefreshFrame(dst []byte, f Format, timeMs, expMs int64, boundary []byte) []byte {
	var packet [96]byte
	p := append(packet[:0], `{"protocol":3,"time":`...)
	p = strconv.AppendInt(p, timeMs, 10)
	p = append(p, `,"cmd":"refresh","exp":`...)
	p = strconv.AppendInt(p, expMs, 10)
	p = append(p, '}')
	return appendPacketFrame(dst, f, eventRefresh, p, boundary)
}
