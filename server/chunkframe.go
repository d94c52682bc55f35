package server

import "github.com/pushwire/pushwire/httpcodec"

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
