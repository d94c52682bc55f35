package h2

import (
	"errors"
	"strconv"
)

// ErrCode is an HTTP/2 error code (RFC 9113 §7), carried by RST_STREAM and
// GOAWAY frames.
type ErrCode uint32

// The error codes of RFC 9113 §7.
const (
	NoError            ErrCode = 0x0
	ProtocolError      ErrCode = 0x1
	InternalError      ErrCode = 0x2
	FlowControlError   ErrCode = 0x3
	SettingsTimeout    ErrCode = 0x4
	StreamClosed       ErrCode = 0x5
	FrameSizeError     ErrCode = 0x6
	RefusedStream      ErrCode = 0x7
	Cancel             ErrCode = 0x8
	CompressionError   ErrCode = 0x9
	ConnectError       ErrCode = 0xa
	EnhanceYourCalm    ErrCode = 0xb
	InadequateSecurity ErrCode = 0xc
	HTTP11Required     ErrCode = 0xd
)

var codeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// String returns the code's RFC name, or its number for codes RFC 9113 does
// not define (which peers may send and we must treat as INTERNAL_ERROR-like).
func (c ErrCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "ERR_0x" + strconv.FormatUint(uint64(c), 16)
}

// Errors returned by the caller-facing write methods. They name a caller's
// mistake or a race with the peer, never a protocol fault: those end in
// EventConnError.
var (
	// ErrStreamClosed: the stream is not open for sending: the peer reset it,
	// it ended, or it never existed. The caller drops its subscriber.
	ErrStreamClosed = errors.New("h2: stream closed")
	// ErrConnClosed: the connection failed or was shut with GOAWAY and
	// takes no more frames.
	ErrConnClosed = errors.New("h2: connection closed")
	// ErrHeadersSent: response headers were already written on the stream.
	ErrHeadersSent = errors.New("h2: response headers already sent")
	// ErrNoHeaders: DATA before the response headers.
	ErrNoHeaders = errors.New("h2: data before response headers")
)
