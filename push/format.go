package push

import "bytes"

// Format is how a stream or long-poll frames what it sends (SPEC §3).
type Format uint8

const (
	NDJSON Format = iota
	SSE
	Multipart
	Poll // a JSON object inside a long-poll answer
	NumFormats
)

var formatNames = [NumFormats]string{"ndjson", "sse", "multipart", "poll"}

// String is the format's name in ?format=.
func (f Format) String() string { return formatNames[f] }

// ChooseFormat applies SPEC §3: ?format= wins, then Accept.
func ChooseFormat(param, accept []byte) (Format, bool) {
	if len(param) > 0 {
		for i, name := range formatNames {
			if string(param) == name {
				return Format(i), true
			}
		}
		return 0, false
	}
	switch {
	case bytes.Contains(accept, []byte("text/event-stream")):
		return SSE, true
	case bytes.Contains(accept, []byte("multipart/mixed")):
		return Multipart, true
	}
	return NDJSON, true
}

// AppendContentType appends the Content-Type of a stream in format f.
func (f Format) AppendContentType(dst, boundary []byte) []byte {
	switch f {
	case SSE:
		return append(dst, "text/event-stream; charset=utf-8"...)
	case Multipart:
		dst = append(dst, "multipart/mixed; boundary="...)
		return append(dst, boundary...)
	}
	return append(dst, "application/x-ndjson"...)
}
