package push

import (
	"bytes"
	"strconv"
)

// AppendSSERetry appends a "retry:" field as its own block. It dispatches no
// event, so it may precede or follow any event.
func AppendSSERetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, "\n\n"...)
}

// AppendSSEComment appends text as comment lines (": text\n", one per line
// of text) and the blank line that ends the block. Heartbeats use it: it
// keeps proxies from timing out and no EventSource listener sees it.
func AppendSSEComment(dst, text []byte) []byte {
	dst = appendSSELines(dst, ": ", text)
	return append(dst, '\n')
}

// AppendSSEEvent appends one event: "id:" and "event:" when non-empty, one
// "data:" line per line of data (LF, CRLF and CR each end a line, as the
// EventSource parser splits them), and the blank line that dispatches it.
// CR and LF cannot occur inside an id or event name; they are dropped there.
func AppendSSEEvent(dst, id, event, data []byte) []byte {
	if len(id) > 0 {
		dst = append(dst, "id: "...)
		dst = appendSSEField(dst, id)
	}
	if len(event) > 0 {
		dst = append(dst, "event: "...)
		dst = appendSSEField(dst, event)
	}
	dst = appendSSELines(dst, "data: ", data)
	return append(dst, '\n')
}

// appendSSEField appends a single-line field value and its LF.
func appendSSEField(dst, v []byte) []byte {
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		dst = append(dst, v...)
		return append(dst, '\n')
	}
	for _, c := range v {
		if c != '\r' && c != '\n' {
			dst = append(dst, c)
		}
	}
	return append(dst, '\n')
}

// appendSSELines appends prefix+line+"\n" for each line of text; empty text
// is one empty line.
func appendSSELines(dst []byte, prefix string, text []byte) []byte {
	for {
		i := len(text)
		if j := bytes.IndexByte(text, '\n'); j >= 0 {
			i = j
		}
		if j := bytes.IndexByte(text[:i], '\r'); j >= 0 {
			i = j
		}
		dst = append(dst, prefix...)
		dst = append(dst, text[:i]...)
		dst = append(dst, '\n')
		if i == len(text) {
			return dst
		}
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
}
