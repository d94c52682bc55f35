package h2

// Frame types (RFC 9113 §6).
const (
	frameData         uint8 = 0x0
	frameHeaders      uint8 = 0x1
	framePriority     uint8 = 0x2
	frameRSTStream    uint8 = 0x3
	frameSettings     uint8 = 0x4
	framePushPromise  uint8 = 0x5
	framePing         uint8 = 0x6
	frameGoAway       uint8 = 0x7
	frameWindowUpdate uint8 = 0x8
	frameContinuation uint8 = 0x9
)

// Frame flags; each is defined only for some types.
const (
	flagEndStream  uint8 = 0x1 // DATA, HEADERS
	flagAck        uint8 = 0x1 // SETTINGS, PING
	flagEndHeaders uint8 = 0x4 // HEADERS, CONTINUATION
	flagPadded     uint8 = 0x8 // DATA, HEADERS
	flagPriority   uint8 = 0x20
)

// SETTINGS identifiers (RFC 9113 §6.5.2).
const (
	settingHeaderTableSize      uint16 = 0x1
	settingEnablePush           uint16 = 0x2
	settingMaxConcurrentStreams uint16 = 0x3
	settingInitialWindowSize    uint16 = 0x4
	settingMaxFrameSize         uint16 = 0x5
	settingMaxHeaderListSize    uint16 = 0x6
)

const (
	frameHeaderLen = 9
	// maxFrameSize is the SETTINGS_MAX_FRAME_SIZE we accept, the protocol's
	// minimum: no frame we read is longer, and we never send longer ones
	// either, whatever the peer allows (every peer accepts 16384).
	maxFrameSize = 16384
	// defaultWindow is the initial window of RFC 9113 §6.9.2 (connection and
	// stream, until SETTINGS change the latter).
	defaultWindow = 65535
	maxWindow     = 1<<31 - 1
	// peerTableSize is the HPACK table size a peer may use until it
	// acknowledges ours (RFC 9113 §6.5.2 initial value).
	peerTableSize = 4096
)

// appendFrameHeader appends a 9-byte frame header.
func appendFrameHeader(dst []byte, length int, typ, flags uint8, stream uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// putFrameHeader writes a frame header over 9 reserved bytes.
func putFrameHeader(b []byte, length int, typ, flags uint8, stream uint32) {
	_ = b[8]
	b[0], b[1], b[2] = byte(length>>16), byte(length>>8), byte(length)
	b[3], b[4] = typ, flags
	b[5], b[6], b[7], b[8] = byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream)
}

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func getUint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func appendRSTStream(dst []byte, stream uint32, code ErrCode) []byte {
	dst = appendFrameHeader(dst, 4, frameRSTStream, 0, stream)
	return appendUint32(dst, uint32(code))
}

func appendGoAway(dst []byte, last uint32, code ErrCode) []byte {
	dst = appendFrameHeader(dst, 8, frameGoAway, 0, 0)
	dst = appendUint32(dst, last&0x7fffffff)
	return appendUint32(dst, uint32(code))
}

func appendWindowUpdate(dst []byte, stream, incr uint32) []byte {
	dst = appendFrameHeader(dst, 4, frameWindowUpdate, 0, stream)
	return appendUint32(dst, incr)
}

func appendPing(dst []byte, flags uint8, data []byte) []byte {
	dst = appendFrameHeader(dst, 8, framePing, flags, 0)
	return append(dst, data[:8]...)
}

func appendSetting(dst []byte, id uint16, v uint32) []byte {
	return appendUint32(append(dst, byte(id>>8), byte(id)), v)
}
