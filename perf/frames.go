package perf

import "bytes"

// feedBody splits de-chunked body bytes into lines and frames. A line that is not finished
// at the end of b is carried; complete lines in b are handed on without copying.
func (s *Stream) feedBody(b []byte, sink Sink) error {
	if s.Format == FormatChunk {
		// A Nchan chunked stream without Transfer-Encoding cannot be framed; treat every
		// read as one frame rather than guess.
		if len(b) > 0 {
			sink.Frame(true, b)
		}
		return nil
	}
	if len(s.carry) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(s.carry)+len(b) > MaxCarry {
				return ErrCarryLimit
			}
			s.carry = append(s.carry, b...)
			return nil
		}
		s.carry = append(s.carry, b[:i]...)
		s.line(s.carry, sink)
		s.carry = s.carry[:0]
		b = b[i+1:]
	}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		s.line(b[:i], sink)
		b = b[i+1:]
	}
	if len(b) > 0 {
		if len(b) > MaxCarry {
			return ErrCarryLimit
		}
		s.carry = append(s.carry, b...)
	} else {
		s.carry = nil // idle connections hold no buffer
	}
	return nil
}

// line handles one body line without its '\n'.
func (s *Stream) line(l []byte, sink Sink) {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	if s.Format == FormatNDJSON {
		if len(l) > 0 {
			sink.Frame(ndjsonIsMessage(l), l)
		}
		return
	}
	s.sseLine(l, sink)
}

var (
	ndjsonMessage = []byte(`"protocol":2`)
	sseData       = []byte("data:")
	sseEvent      = []byte("event:")
	sseID         = []byte("id:")
	sseRetry      = []byte("retry:")
	cfConnect     = []byte(`{"connect":`)
	cfPublication = []byte(`{"channel":`)
)

// ndjsonIsMessage reports a message packet ({"protocol":2,...}); registered (1), heartbeat
// (0) and control (3) packets are not. pushwire writes protocol first, so this is a
// prefix check in practice, but any position is accepted.
func ndjsonIsMessage(l []byte) bool {
	if len(l) > 13 && bytes.Equal(l[1:13], ndjsonMessage) {
		return true
	}
	return bytes.Contains(l, ndjsonMessage)
}

// sseLine handles one event-stream line. Payloads pushbench publishes are one line, so a
// data line is handed on as the frame at once; the event name (registered, reconnect)
// seen before it decides whether it counts as a message. A blank line ends the event.
func (s *Stream) sseLine(l []byte, sink Sink) {
	switch {
	case len(l) == 0:
		s.sseMessage = false
		s.sseNamed = false
	case l[0] == ':':
		// comment: heartbeat
	case bytes.HasPrefix(l, sseData):
		v := l[len(sseData):]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		if s.Centrifugo && !bytes.HasPrefix(v, cfPublication) {
			s.cfConnected = s.cfConnected || bytes.HasPrefix(v, cfConnect)
			sink.Frame(false, v)
			return
		}
		sink.Frame(!s.sseNamed || s.sseMessage, v)
	case bytes.HasPrefix(l, sseEvent):
		v := bytes.TrimSpace(l[len(sseEvent):])
		s.sseNamed = true
		s.sseMessage = !bytes.Equal(v, []byte("registered")) && !bytes.Equal(v, []byte("reconnect"))
	case bytes.HasPrefix(l, sseID):
		// A resend carries an id at most the cursor: keep the newest (pushwire's ids
		// are ordered by publish time across a cluster). A non-decimal id is ignored.
		v := bytes.TrimSpace(l[len(sseID):])
		if id, n := parseUint(v); n > 0 && n == len(v) && id > s.LastID {
			s.LastID = id
		}
	case bytes.HasPrefix(l, sseRetry):
		if ms, n := parseUint(bytes.TrimSpace(l[len(sseRetry):])); n > 0 && ms < 1<<31 {
			s.RetryMs = uint32(ms)
		}
	}
}
