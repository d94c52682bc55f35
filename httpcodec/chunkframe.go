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
