package push

import (
	"strconv"

	"github.com/pushwire/pushwire/httpcodec"
)

// The packets of SPEC §3, one encoder per kind and format. Each appends to dst
// and allocates nothing.

// appendMessagePacket appends the JSON object of a message packet (an NDJSON
// record without its newline, or one entry of a long-poll answer).
func appendMessagePacket(dst []byte, m *Message) []byte {
	dst = append(dst, `{"protocol":2,"time":`...)
	dst = strconv.AppendInt(dst, m.TimeMs, 10)
	dst = append(dst, `,"id":"`...)
	dst = append(dst, m.ID...)
	dst = append(dst, `","to":`...)
	dst = httpcodec.AppendJSONString(dst, m.To)
	if len(m.Event) > 0 {
		dst = append(dst, `,"event":`...)
		dst = httpcodec.AppendJSONString(dst, m.Event)
	}
	dst = append(dst, `,"data":`...)
	if m.JSON {
		dst = append(dst, m.Data...)
	} else {
		dst = httpcodec.AppendJSONString(dst, m.Data)
	}
	return append(dst, '}')
}

// appendRegisteredPacket appends the packet a stream starts with: its conn key.
func appendRegisteredPacket(dst []byte, timeMs int64, key []byte) []byte {
	dst = append(dst, `{"protocol":1,"time":`...)
	dst = strconv.AppendInt(dst, timeMs, 10)
	dst = append(dst, `,"state":"registered","conn":"`...)
	dst = append(dst, key...)
	return append(dst, `"}`...)
}

// appendHeartbeatPacket appends the packet an idle stream gets every --heartbeat.
func appendHeartbeatPacket(dst []byte, timeMs int64) []byte {
	dst = append(dst, `{"protocol":0,"time":`...)
	dst = strconv.AppendInt(dst, timeMs, 10)
	return append(dst, '}')
}

// appendReconnectPacket appends the control packet a drain sends: reconnect
// after retryMs.
func appendReconnectPacket(dst []byte, timeMs, retryMs int64) []byte {
	dst = append(dst, `{"protocol":3,"time":`...)
	dst = strconv.AppendInt(dst, timeMs, 10)
	dst = append(dst, `,"cmd":"reconnect","retry":`...)
	dst = strconv.AppendInt(dst, retryMs, 10)
	return append(dst, '}')
}

var (
	eventMessage    = []byte("message")
	eventRegistered = []byte("registered")
	eventReconnect  = []byte("reconnect")
	ctypeJSON       = []byte("application/json")
	ctypeText       = []byte("text/plain")
	pushIDNone      = []byte("0")
)

// AppendMessageFrame appends message m as one frame of format f.
func AppendMessageFrame(dst []byte, f Format, m *Message, boundary []byte) []byte {
	switch f {
	case SSE:
		event := m.Event
		if len(event) == 0 {
			event = eventMessage
		}
		return AppendSSEEvent(dst, m.ID, event, m.Data)
	case Multipart:
		return appendPart(dst, boundary, m.ContentType, m.ID, m.Event, m.Data)
	case Poll:
		return appendMessagePacket(dst, m)
	}
	// Encoded straight into dst plus the newline: the bytes AppendNDJSON
	// would make, without building the object apart first.
	return append(appendMessagePacket(dst, m), '\n')
}

// AppendResendFrame appends message m as one frame of format f flagged as a
// resend: the client may have had it already (SPEC §5 is at-least-once) and
// can drop it if it holds that id. ndjson and poll packets get
// "resend":true, multipart parts a Push-Resend: true header, SSE events a
// ": resend" comment line before them (EventSource ignores it; the id: line
// lets a page drop what it has seen).
func AppendResendFrame(dst []byte, f Format, m *Message, boundary []byte) []byte {
	switch f {
	case SSE:
		return AppendMessageFrame(append(dst, ": resend\n"...), f, m, boundary)
	case Multipart:
		ctype := m.ContentType
		if len(ctype) == 0 {
			ctype = ctypeText
		}
		dst = append(dst, "--"...)
		dst = append(dst, boundary...)
		dst = append(dst, "\r\n"...)
		dst = httpcodec.AppendHeaderBytes(dst, "Content-Type", ctype)
		dst = httpcodec.AppendHeaderBytes(dst, "Push-Id", m.ID)
		if len(m.Event) > 0 {
			dst = httpcodec.AppendHeaderBytes(dst, "Push-Event", m.Event)
		}
		dst = httpcodec.AppendHeader(dst, "Push-Resend", "true")
		dst = append(dst, "\r\n"...)
		dst = append(dst, m.Data...)
		return append(dst, "\r\n"...)
	}
	dst = appendMessagePacket(dst, m)
	dst = append(dst[:len(dst)-1], `,"resend":true}`...)
	if f == Poll {
		return dst
	}
	return append(dst, '\n')
}

// appendPart appends one multipart part; a message's part carries its own
// Content-Type (text/plain when the publisher sent none) and event.
func appendPart(dst, boundary, ctype, pushID, event, body []byte) []byte {
	if len(ctype) == 0 {
		ctype = ctypeText
	}
	return AppendMultipartPart(dst, boundary, PartFields{ContentType: ctype, PushID: pushID, PushEvent: event}, body)
}

// appendPacketFrame wraps a packet object (registered, heartbeat, control) in
// format f. SSE heartbeats are comments; everything else is a packet.
func appendPacketFrame(dst []byte, f Format, event, packet, boundary []byte) []byte {
	switch f {
	case SSE:
		return AppendSSEEvent(dst, nil, event, packet)
	case Multipart:
		return appendPart(dst, boundary, ctypeJSON, pushIDNone, nil, packet)
	}
	return AppendNDJSON(dst, packet)
}

// AppendRegisteredFrame appends the frame a stream starts with, in format f:
// the registered packet naming its conn key; an SSE stream gets a retry: line
// first, the reconnect delay advised to EventSource.
func AppendRegisteredFrame(dst []byte, f Format, timeMs int64, key []byte, retryMs int64, boundary []byte) []byte {
	var packet [192]byte // a key is at most 97 bytes (keyTextLen, ".", a 64-byte node id)
	p := appendRegisteredPacket(packet[:0], timeMs, key)
	if f == SSE {
		dst = AppendSSERetry(dst, retryMs)
	}
	return appendPacketFrame(dst, f, eventRegistered, p, boundary)
}

// AppendHeartbeatFrame appends the frame an idle stream gets, in format f: an
// SSE comment (": hb <unix ms>", which no EventSource listener sees), a
// heartbeat packet otherwise.
func AppendHeartbeatFrame(dst []byte, f Format, timeMs int64, boundary []byte) []byte {
	if f == SSE {
		var text [24]byte
		return AppendSSEComment(dst, strconv.AppendInt(append(text[:0], "hb "...), timeMs, 10))
	}
	var packet [64]byte
	return appendPacketFrame(dst, f, nil, appendHeartbeatPacket(packet[:0], timeMs), boundary)
}

// AppendReconnectFrame appends the control frame a drain sends, in format f:
// the reconnect packet; an SSE stream gets a retry: line first, so that even a
// plain EventSource waits as told.
func AppendReconnectFrame(dst []byte, f Format, timeMs, retryMs int64, boundary []byte) []byte {
	var packet [128]byte
	p := appendReconnectPacket(packet[:0], timeMs, retryMs)
	if f == SSE {
		dst = AppendSSERetry(dst, retryMs)
	}
	return appendPacketFrame(dst, f, eventReconnect, p, boundary)
}
