package perf

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// MonoNow returns CLOCK_MONOTONIC in nanoseconds. Every process on the machine reads the
// same clock, so a publisher's stamp and a subscriber worker's receipt time compare directly
// (wall time could step under NTP; the Go runtime's monotonic reading is per-process).
func MonoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for CLOCK_MONOTONIC
	return ts.Nano()
}

// stampMarker starts every payload pushbench publishes. It is plain ASCII without quotes or
// backslashes so it survives unchanged as an SSE data line, a JSON string and a raw chunk.
var stampMarker = []byte("pbm:")

// AppendStamp appends a payload "pbm:<seq>:<monotonic ns>;" padded with 'x' to size bytes.
func AppendStamp(dst []byte, seq uint64, mono int64, size int) []byte {
	start := len(dst)
	dst = append(dst, stampMarker...)
	dst = appendUint(dst, seq)
	dst = append(dst, ':')
	dst = appendUint(dst, uint64(mono))
	dst = append(dst, ';')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// ParseStamp finds the first stamp in frame and returns its sequence number and publish time.
// ok is false when the frame carries no well-formed stamp (registered packets, heartbeats,
// messages somebody else published).
func ParseStamp(frame []byte) (seq uint64, mono int64, ok bool) {
	i := bytes.Index(frame, stampMarker)
	if i < 0 {
		return 0, 0, false
	}
	rest := frame[i+len(stampMarker):]
	seq, n := parseUint(rest)
	if n == 0 || n >= len(rest) || rest[n] != ':' {
		return 0, 0, false
	}
	rest = rest[n+1:]
	m, n := parseUint(rest)
	if n == 0 || n >= len(rest) || rest[n] != ';' {
		return 0, 0, false
	}
	return seq, int64(m), true
}

func appendUint(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// parseUint reads leading decimal digits; n is how many bytes it used (0: none, or overflow).
func parseUint(b []byte) (v uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		if n >= 19 {
			return 0, 0
		}
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n
}
