package httpcodec

// AppendChunkHeader appends the chunk-size line "<hex n>\r\n".
func AppendChunkHeader(dst []byte, n int) []byte {
	const hexDigits = "0123456789abcdef"
	if n <= 0 {
		return append(dst, "0\r\n"...)
	}
	var tmp [16]byte
	i := len(tmp)
	for u := uint64(n); u > 0; u >>= 4 {
		i--
		tmp[i] = hexDigits[u&0xf]
	}
	dst = append(dst, tmp[i:]...)
	return append(dst, "\r\n"...)
}

// AppendChunk appends data as one chunk: size line, data, CRLF. Empty data
// appends nothing, since a zero-size chunk would end the stream.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(data))
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the last chunk and the empty trailer section.
func AppendLastChunk(dst []byte) []byte {
	return append(dst, "0\r\n\r\n"...)
}

// framePrefix is room reserved in front of a frame for its chunk-size line:
// a frame is encoded once and the size line written right-aligned into the
// room afterwards, so no bytes move.
const framePrefix = 18

// AppendChunkedFrame appends, with body, one frame that is both an HTTP/1.1
// chunk and a bare HTTP/1.0 body part: "<room>frame\r\n", the chunk-size line
// written into the room afterwards. SplitChunkedFrame gives the two views.
func AppendChunkedFrame(dst []byte, body func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, framePrefix)...)
	dst = body(dst)
	n := len(dst) - start - framePrefix
	var size [framePrefix]byte
	line := AppendChunkHeader(size[:0], n)
	copy(dst[start+framePrefix-len(line):], line)
	dst = append(dst, '\r', '\n')
	// Mark where the size line starts, so SplitChunkedFrame can find it.
	dst[start] = byte(framePrefix - len(line))
	return dst
}

// SplitChunkedFrame returns the two views of a buffer AppendChunkedFrame
// made (it must start the buffer): the chunk, size line to CRLF, and the bare
// frame.
func SplitChunkedFrame(buf []byte) (chunked, raw []byte) {
	lineStart := int(buf[0])
	return buf[lineStart:], buf[framePrefix : len(buf)-2]
}
