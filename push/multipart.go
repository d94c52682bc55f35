package push

import (
	"bytes"

	"github.com/pushwire/pushwire/httpcodec"
)

// PartFields are the header fields of one multipart part; an empty one is
// left out.
type PartFields struct {
	ContentType []byte
	PushID      []byte
	PushEvent   []byte
}

// AppendMultipartPart appends one part of a multipart/mixed stream:
//
//	--boundary CRLF
//	Content-Type: <ContentType> CRLF
//	Push-Id: <PushID> CRLF
//	Push-Event: <PushEvent> CRLF
//	[Content-Transfer-Encoding: quoted-printable CRLF]
//	CRLF
//	body CRLF
//
// Each part carries its own closing CRLF, so a part is complete the moment it
// is flushed; the delimiter that follows starts directly with "--".
//
// A body is bytes from a publisher, and the boundary is no secret (every
// subscriber reads it in the stream's Content-Type), so a body may hold
// "--boundary" on purpose. Such a body, and only such a body, is sent
// quoted-printable (see appendQuotedPrintable), which cannot hold it:
// whatever the body, the part ends where we end it. MIME readers undo the
// encoding (Go's mime/multipart does it in NextPart).
func AppendMultipartPart(dst, boundary []byte, f PartFields, body []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	dst = append(dst, "\r\n"...)
	dst = appendPartField(dst, "Content-Type", f.ContentType)
	dst = appendPartField(dst, "Push-Id", f.PushID)
	dst = appendPartField(dst, "Push-Event", f.PushEvent)
	if containsDelimiter(body, boundary) {
		dst = append(dst, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"...)
		dst = appendQuotedPrintable(dst, body)
	} else {
		dst = append(dst, "\r\n"...)
		dst = append(dst, body...)
	}
	return append(dst, "\r\n"...)
}

// appendPartField appends "Name: value\r\n" with CR, LF and NUL in value
// blanked; nothing when value is empty.
func appendPartField(dst []byte, name string, value []byte) []byte {
	if len(value) == 0 {
		return dst
	}
	return httpcodec.AppendHeaderBytes(dst, name, value)
}

// containsDelimiter reports whether body holds "--" + boundary anywhere. A
// reader finds a delimiter only after a line break (RFC 2046 §5.1.1), but
// lenient readers differ on what a line break is; refusing the dashed
// boundary anywhere leaves none of them a place to cut the part.
func containsDelimiter(body, boundary []byte) bool {
	// The boundary is searched for first, not "--": a body of dashes would
	// stop that scan at every byte, while the random boundary stops it only
	// where the body really holds it.
	for len(body) >= len(boundary)+2 {
		i := bytes.Index(body[2:], boundary)
		if i < 0 {
			return false
		}
		i += 2
		if body[i-2] == '-' && body[i-1] == '-' {
			return true
		}
		body = body[i-1:] // the next search starts one byte past this match
	}
	return false
}

// appendQuotedPrintable appends body as quoted-printable (RFC 2045 §6.7)
// with only printable ASCII other than '=' and '-' left literal. Without a
// literal '-' the encoded body cannot hold a delimiter; with CR, LF, space
// and tab escaped, every byte decodes back exactly (no line-break
// conversion, no trailing white space dropped). Soft line breaks keep lines
// within 76 characters.
func appendQuotedPrintable(dst, body []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	const maxLine = 76 - 1 // room for the '=' of a soft line break
	line := 0
	for _, c := range body {
		n := 1
		if c < '!' || c > '~' || c == '=' || c == '-' {
			n = 3
		}
		if line+n > maxLine {
			dst = append(dst, "=\r\n"...)
			line = 0
		}
		if n == 1 {
			dst = append(dst, c)
		} else {
			dst = append(dst, '=', hexDigits[c>>4], hexDigits[c&0xf])
		}
		line += n
	}
	return dst
}

// AppendMultipartClose appends the close delimiter "--boundary--\r\n".
func AppendMultipartClose(dst, boundary []byte) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	return append(dst, "--\r\n"...)
}
