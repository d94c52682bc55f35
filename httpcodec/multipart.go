package httpcodec

// AppendMultipartPart appends one part of a multipart/mixed stream:
//
//	--boundary CRLF
//	Content-Type: <contentType> CRLF   (omitted when empty)
//	Push-Id: <pushID> CRLF             (omitted when empty)
//	CRLF
//	body CRLF
//
// Each part carries its own closing CRLF, so a part is complete the moment it
// is flushed; the delimiter that follows starts directly with "--". The
// caller picks a boundary that cannot occur in bodies.
func AppendMultipartPart(dst, boundary, contentType, pushID, body []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	dst = append(dst, "\r\n"...)
	if len(contentType) > 0 {
		dst = append(dst, "Content-Type: "...)
		n := len(dst)
		dst = append(dst, contentType...)
		sanitizeFieldValue(dst[n:])
		dst = append(dst, "\r\n"...)
	}
	if len(pushID) > 0 {
		dst = append(dst, "Push-Id: "...)
		n := len(dst)
		dst = append(dst, pushID...)
		sanitizeFieldValue(dst[n:])
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, body...)
	return append(dst, "\r\n"...)
}

// AppendMultipartClose appends the close delimiter "--boundary--\r\n".
func AppendMultipartClose(dst, boundary []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	return append(dst, "--\r\n"...)
}
