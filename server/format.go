package server

import (
	"bytes"

	"github.com/pushwire/pushwire/httpcodec"
)

// format is how a stream or long-poll frames what it sends (SPEC §3).
type format uint8

const (
	formatNDJSON format = iota
	formatSSE
	formatMultipart
	formatPoll // a JSON object inside a long-poll answer
	numFormats
)

var formatNames = [numFormats]string{"ndjson", "sse", "multipart", "poll"}

func (f format) String() string { return formatNames[f] }

// chooseFormat applies SPEC §3: ?format= wins, then Accept.
func chooseFormat(param, accept []byte) (format, bool) {
	if len(param) > 0 {
		for i, name := range formatNames {
			if string(param) == name {
				return format(i), true
			}
		}
		return 0, false
	}
	switch {
	case bytes.Contains(accept, []byte("text/event-stream")):
		return formatSSE, true
	case bytes.Contains(accept, []byte("multipart/mixed")):
		return formatMultipart, true
	}
	return formatNDJSON, true
}

// contentType is the Content-Type of a stream in format f.
func (f format) contentType(dst, boundary []byte) []byte {
	switch f {
	case formatSSE:
		return append(dst, "text/event-stream; charset=utf-8"...)
	case formatMultipart:
		dst = append(dst, "multipart/mixed; boundary="...)
		return append(dst, boundary...)
	}
	return append(dst, "application/x-ndjson"...)
}

// chunkPrefix is room reserved in front of a frame for its chunk-size line:
// a frame is encoded once and the size line written right-aligned into the
// room afterwards, so no bytes move.
const chunkPrefix = 18

// encodeChunkedFrame appends, with body, "<room>frame\r\n" and then writes the
// chunk-size line into the room.
func encodeChunkedFrame(dst []byte, body func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, chunkPrefix)...)
	dst = body(dst)
	n := len(dst) - start - chunkPrefix
	var size [chunkPrefix]byte
	line := httpcodec.AppendChunkHeader(size[:0], n)
	copy(dst[start+chunkPrefix-len(line):], line)
	dst = append(dst, '\r', '\n')
	// Mark where the size line starts, so splitChunkedFrame can find it.
	dst[start] = byte(chunkPrefix - len(line))
	return dst
}

// splitChunkedFrame returns the two views of a buffer encodeChunkedFrame made.
func splitChunkedFrame(buf []byte) (chunked, raw []byte) {
	lineStart := int(buf[0])
	return buf[lineStart:], buf[chunkPrefix : len(buf)-2]
}
