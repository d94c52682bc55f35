package perf

import (
	"bytes"
	"errors"
)

// Format says how a subscriber stream's body divides into frames.
type Format uint8

const (
	// FormatNDJSON is one JSON object per line (pushwire's default stream).
	FormatNDJSON Format = iota
	// FormatSSE is text/event-stream: events end at a blank line (pushwire sse, Nchan EventSource).
	FormatSSE
	// FormatChunk is one message per HTTP chunk (Nchan's "TE: chunked" subscriber).
	FormatChunk
)

// ParseFormat maps a flag value to a Format.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "ndjson":
		return FormatNDJSON, nil
	case "sse":
		return FormatSSE, nil
	case "chunked":
		return FormatChunk, nil
	}
	return 0, errors.New("perf: unknown format " + s + " (want ndjson, sse or chunked)")
}

func (f Format) String() string {
	switch f {
	case FormatSSE:
		return "sse"
	case FormatChunk:
		return "chunked"
	}
	return "ndjson"
}

// MaxCarry bounds the bytes a stream keeps between reads: a response head or one unfinished
// frame. A frame larger than this is a broken or hostile target, not something to buffer.
const MaxCarry = 128 << 10

// Errors a Stream reports; the connection is then closed and counted as failed.
var (
	ErrCarryLimit = errors.New("perf: frame or response head over MaxCarry")
	ErrBadHead    = errors.New("perf: malformed response head")
	ErrBadChunk   = errors.New("perf: malformed chunked encoding")
	ErrStreamEnd  = errors.New("perf: stream ended by the server")
)

// Sink receives the frames a Stream finds. data is valid only during the call.
// message is true for message frames (ndjson protocol 2, an SSE event that is not a
// comment, registered or reconnect event, any non-empty chunk).
type Sink interface {
	Frame(message bool, data []byte)
}

const (
	phaseHead uint8 = iota
	phaseBody
)

const (
	chunkSize   uint8 = iota // reading hex digits
	chunkExt                 // skipping a chunk extension up to CR
	chunkSizeLF              // expecting LF after the size line
	chunkData                // inside chunk data
	chunkDataCR              // expecting CR after the data
	chunkDataLF              // expecting LF after the data
)

// Stream decodes one subscriber response incrementally: the head, then chunked (or raw)
// body, then frames. Feed takes bytes as they are read and never rescans what it has
// consumed; only an unfinished head or frame is carried, and carry is nil while idle so a
// held connection costs a few dozen bytes.
type Stream struct {
	Format Format
	// Status is the response status code, 0 until the head is parsed.
	Status int
	// Key is the Push-Conn header (pushwire's conn key), empty if absent.
	Key string
	// Centrifugo marks a Centrifugo uni_sse stream: its {"connect":...} reply, pings ({})
	// and {"disconnect":...} are control frames, and it is Live only once the connect
	// reply came (the head is sent before the subscriptions are made).
	Centrifugo  bool
	cfConnected bool
	// LastID is the newest SSE "id:" seen (pushwire's message ids are decimal): what a
	// browser sends back as Last-Event-ID when it reconnects. RetryMs is the last SSE
	// "retry:" (0 if none came): how long a browser waits before reconnecting.
	LastID  uint64
	RetryMs uint32

	phase      uint8
	chunked    bool
	chunkState uint8
	chunkLeft  int
	sseNamed   bool // the SSE event being read has an event: line
	sseMessage bool // ... naming a message rather than registered or reconnect
	carry      []byte
}

// StartBody begins a stream whose head came another way (an HTTP/2 HEADERS frame): its
// body is read bare, as an HTTP/1.0 one is.
func (s *Stream) StartBody(status int, key string) {
	s.Status, s.Key, s.phase, s.chunked = status, key, phaseBody, false
}

// HeadDone reports that the response head has been parsed.
func (s *Stream) HeadDone() bool { return s.phase == phaseBody }

// Live reports that the subscription receives messages: the head is parsed and, for
// Centrifugo, the connect reply arrived.
func (s *Stream) Live() bool { return s.HeadDone() && (!s.Centrifugo || s.cfConnected) }

// Feed consumes b (a read from the socket) and calls sink for every finished frame.
func (s *Stream) Feed(b []byte, sink Sink) error {
	if s.phase == phaseHead {
		rest, err := s.feedHead(b)
		if err != nil || rest == nil {
			return err
		}
		b = rest
	}
	if !s.chunked {
		return s.feedBody(b, sink)
	}
	return s.feedChunked(b, sink)
}

// feedHead collects bytes until the end of the head; it returns the body bytes that followed
// (nil while the head is incomplete).
func (s *Stream) feedHead(b []byte) ([]byte, error) {
	var head, rest []byte
	if len(s.carry) == 0 {
		if i := bytes.Index(b, crlfcrlf); i >= 0 {
			head, rest = b[:i+4], b[i+4:]
		}
	}
	if head == nil {
		from := max(0, len(s.carry)-3) // the terminator may straddle the previous read
		s.carry = append(s.carry, b...)
		i := bytes.Index(s.carry[from:], crlfcrlf)
		if i < 0 {
			if len(s.carry) > MaxCarry {
				return nil, ErrCarryLimit
			}
			return nil, nil
		}
		end := from + i + 4
		head, rest = s.carry[:end], b[len(b)-(len(s.carry)-end):]
	}
	if err := s.parseHead(head); err != nil {
		return nil, err
	}
	s.carry = nil
	s.phase = phaseBody
	if rest == nil {
		rest = b[len(b):]
	}
	return rest, nil
}

var (
	crlfcrlf    = []byte("\r\n\r\n")
	hdrTE       = []byte("transfer-encoding")
	hdrPushConn = []byte("push-conn")
	tokChunked  = []byte("chunked")
)

func (s *Stream) parseHead(head []byte) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return ErrBadHead
	}
	code, n := parseUint(line[9:12])
	if n != 3 {
		return ErrBadHead
	}
	s.Status = int(code)
	for len(rest) > 2 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return ErrBadHead
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, hdrTE):
			s.chunked = bytes.Contains(bytes.ToLower(value), tokChunked)
		case bytes.EqualFold(name, hdrPushConn):
			s.Key = string(value)
		}
	}
	return nil
}

// feedChunked strips chunk framing and hands data on; for FormatChunk each chunk is a frame.
func (s *Stream) feedChunked(b []byte, sink Sink) error {
	for len(b) > 0 {
		switch s.chunkState {
		case chunkSize:
			c := b[0]
			switch {
			case c >= '0' && c <= '9':
				s.chunkLeft = s.chunkLeft<<4 | int(c-'0')
			case c >= 'a' && c <= 'f':
				s.chunkLeft = s.chunkLeft<<4 | int(c-'a'+10)
			case c >= 'A' && c <= 'F':
				s.chunkLeft = s.chunkLeft<<4 | int(c-'A'+10)
			case c == ';':
				s.chunkState = chunkExt
			case c == '\r':
				s.chunkState = chunkSizeLF
			default:
				return ErrBadChunk
			}
			if s.chunkLeft > MaxCarry {
				return ErrCarryLimit
			}
			b = b[1:]
		case chunkExt:
			i := bytes.IndexByte(b, '\r')
			if i < 0 {
				return nil
			}
			s.chunkState = chunkSizeLF
			b = b[i+1:]
		case chunkSizeLF:
			if b[0] != '\n' {
				return ErrBadChunk
			}
			if s.chunkLeft == 0 {
				return ErrStreamEnd
			}
			s.chunkState = chunkData
			b = b[1:]
		case chunkData:
			n := min(s.chunkLeft, len(b))
			if err := s.chunkBytes(b[:n], n == s.chunkLeft, sink); err != nil {
				return err
			}
			s.chunkLeft -= n
			b = b[n:]
			if s.chunkLeft == 0 {
				s.chunkState = chunkDataCR
			}
		case chunkDataCR, chunkDataLF:
			want := byte('\r')
			if s.chunkState == chunkDataLF {
				want = '\n'
			}
			if b[0] != want {
				return ErrBadChunk
			}
			b = b[1:]
			if s.chunkState == chunkDataCR {
				s.chunkState = chunkDataLF
			} else {
				s.chunkState = chunkSize
			}
		}
	}
	return nil
}

// chunkBytes passes de-chunked body bytes on; last marks the end of the current chunk.
func (s *Stream) chunkBytes(b []byte, last bool, sink Sink) error {
	if s.Format != FormatChunk {
		return s.feedBody(b, sink)
	}
	if !last {
		if len(s.carry)+len(b) > MaxCarry {
			return ErrCarryLimit
		}
		s.carry = append(s.carry, b...)
		return nil
	}
	if len(s.carry) == 0 {
		sink.Frame(true, b)
		return nil
	}
	s.carry = append(s.carry, b...)
	sink.Frame(true, s.carry)
	s.carry = nil
	return nil
}
