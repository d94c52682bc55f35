package server

import (
	"strconv"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// The packets of SPEC §3, one encoder per kind and format. Each appends to dst
// and allocates nothing.

// appendMessagePacket appends the JSON object of a message packet.
func appendMessagePacket(dst []byte, m *message) []byte {
	dst = append(dst, `{"protocol":2,"time":`...)
	dst = strconv.AppendInt(dst, m.timeMs, 10)
	dst = append(dst, `,"id":"`...)
	dst = append(dst, m.id...)
	dst = append(dst, `","to":`...)
	dst = httpcodec.AppendJSONString(dst, m.to)
	if len(m.event) > 0 {
		dst = append(dst, `,"event":`...)
		dst = httpcodec.AppendJSONString(dst, m.event)
	}
	dst = append(dst, `,"data":`...)
	if m.json {
		dst = append(dst, m.data...)
	} else {
		dst = httpcodec.AppendJSONString(dst, m.data)
	}
	return append(dst, '}')
}

func appendRegisteredPacket(dst []byte, timeMs int64, key []byte) []byte {
	dst = append(dst, `{"protocol":1,"time":`...)
	dst = strconv.AppendInt(dst, timeMs, 10)
	dst = append(dst, `,"state":"registered","conn":"`...)
	dst = append(dst, key...)
	return append(dst, `"}`...)
}

func appendHeartbeatPacket(dst []byte, timeMs int64) []byte {
	dst = append(dst, `{"protocol":0,"time":`...)
	dst = strconv.AppendInt(dst, timeMs, 10)
	return append(dst, '}')
}

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

// appendMessageFrame appends message m as one frame of format f.
func appendMessageFrame(dst []byte, f push.Format, m *message, boundary []byte) []byte {
	switch f {
	case push.SSE:
		event := m.event
		if len(event) == 0 {
			event = eventMessage
		}
		return push.AppendSSEEvent(dst, m.id, event, m.data)
	case push.Multipart:
		return appendPart(dst, boundary, m.ctype, m.id, m.event, m.data)
	case push.Poll:
		return appendMessagePacket(dst, m)
	}
	// Encoded straight into dst plus the newline: the bytes AppendNDJSON
	// would make, without building the object apart first.
	return append(appendMessagePacket(dst, m), '\n')
}

// appendResendFrame appends message m as one frame of format f flagged as a
// resend: the client may have had it already (SPEC §5 is at-least-once) and
// can drop it if it holds that id. ndjson and poll packets get
// "resend":true, multipart parts a Push-Resend: true header, SSE events a
// ": resend" comment line before them (EventSource ignores it; the id: line
// lets a page drop what it has seen).
func appendResendFrame(dst []byte, f push.Format, m *message, boundary []byte) []byte {
	switch f {
	case push.SSE:
		return appendMessageFrame(append(dst, ": resend\n"...), f, m, boundary)
	case push.Multipart:
		ctype := m.ctype
		if len(ctype) == 0 {
			ctype = ctypeText
		}
		dst = append(dst, "--"...)
		dst = append(dst, boundary...)
		dst = append(dst, "\r\n"...)
		dst = httpcodec.AppendHeaderBytes(dst, "Content-Type", ctype)
		dst = httpcodec.AppendHeaderBytes(dst, "Push-Id", m.id)
		if len(m.event) > 0 {
			dst = httpcodec.AppendHeaderBytes(dst, "Push-Event", m.event)
		}
		dst = httpcodec.AppendHeader(dst, "Push-Resend", "true")
		dst = append(dst, "\r\n"...)
		dst = append(dst, m.data...)
		return append(dst, "\r\n"...)
	}
	dst = appendMessagePacket(dst, m)
	dst = append(dst[:len(dst)-1], `,"resend":true}`...)
	if f == push.Poll {
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
	return push.AppendMultipartPart(dst, boundary, push.PartFields{ContentType: ctype, PushID: pushID, PushEvent: event}, body)
}

// appendPacketFrame wraps a packet object (registered, heartbeat, control) in
// format f. SSE heartbeats are comments; everything else is a packet.
func appendPacketFrame(dst []byte, f push.Format, event, packet, boundary []byte) []byte {
	switch f {
	case push.SSE:
		return push.AppendSSEEvent(dst, nil, event, packet)
	case push.Multipart:
		return appendPart(dst, boundary, ctypeJSON, pushIDNone, nil, packet)
	}
	dst = append(dst, packet...)
	return append(dst, '\n')
}

// appendSSEReconnect is the SSE control frame: a retry: line, so that even a
// plain EventSource waits as told, and the reconnect event.
func appendSSEReconnect(dst []byte, retryMs int64, packet []byte) []byte {
	dst = push.AppendSSERetry(dst, retryMs)
	return push.AppendSSEEvent(dst, nil, eventReconnect, packet)
}
