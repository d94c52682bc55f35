package h2

import "github.com/pushwire/pushwire/httpcodec/h2/header"

// Field is one response header field. Names should be lowercase; others are
// lowercased on the way out (RFC 9113 §8.2).
type Field struct{ Name, Value string }

// appendStatusBlock starts a header block with :status. The connection's
// first block opens with a table size update to 0, telling the peer our
// table holds nothing whatever SETTINGS_HEADER_TABLE_SIZE it sent.
func (c *Conn) appendStatusBlock(dst []byte, status int) []byte {
	if c.flags&cfTableSent == 0 {
		c.flags |= cfTableSent
		dst = append(dst, header.TableSizeZero)
	}
	return header.AppendStatus(dst, status)
}

// WriteHeaders appends the response HEADERS (and CONTINUATION, for a block
// past 16 KiB) for stream id: status, then fields. With end the response
// has no body and the stream is done.
func (c *Conn) WriteHeaders(dst []byte, id uint32, status int, fields []Field, end bool) ([]byte, error) {
	if c.st == stDead {
		return dst, ErrConnClosed
	}
	i := c.find(id)
	if i < 0 {
		return dst, ErrStreamClosed
	}
	if c.streams[i].flags&sfHeadersSent != 0 {
		return dst, ErrHeadersSent
	}
	c.streams[i].flags |= sfHeadersSent
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	dst = c.appendStatusBlock(dst, status)
	for _, f := range fields {
		dst = header.AppendField(dst, f.Name, f.Value)
	}
	var flags uint8
	if end {
		flags = flagEndStream
	}
	dst = splitBlock(dst, start, flags, id)
	if end {
		c.out = dst
		c.localEnd(i)
		dst, c.out = c.out, nil
	}
	return dst, nil
}

// splitBlock frames the header block appended after 9 bytes reserved at
// start: one HEADERS frame, or HEADERS and CONTINUATION frames when it is
// longer than a frame (rare: it copies).
func splitBlock(dst []byte, start int, flags uint8, id uint32) []byte {
	n := len(dst) - start - frameHeaderLen
	if n <= maxFrameSize {
		putFrameHeader(dst[start:], n, frameHeaders, flags|flagEndHeaders, id)
		return dst
	}
	cut := start + frameHeaderLen + maxFrameSize
	rest := append([]byte(nil), dst[cut:]...)
	dst = dst[:cut]
	putFrameHeader(dst[start:], maxFrameSize, frameHeaders, flags, id)
	for len(rest) > 0 {
		k := min(len(rest), maxFrameSize)
		var f uint8
		if k == len(rest) {
			f = flagEndHeaders
		}
		dst = appendFrameHeader(dst, k, frameContinuation, f, id)
		dst = append(dst, rest[:k]...)
		rest = rest[k:]
	}
	return dst
}

// WriteData appends DATA frames carrying p on stream id, as far as the
// peer's connection and stream windows allow; the rest waits in the
// stream's queue (Queued) until a WINDOW_UPDATE lets it out through Feed's
// dst. With end the stream ends after p. Writing to a stream whose queue is
// not empty queues behind it, so bytes stay in order. It allocates nothing
// unless bytes must queue or dst must grow.
func (c *Conn) WriteData(dst []byte, id uint32, p []byte, end bool) ([]byte, error) {
	if c.st == stDead {
		return dst, ErrConnClosed
	}
	i := c.find(id)
	if i < 0 {
		return dst, ErrStreamClosed
	}
	s := &c.streams[i]
	switch {
	case s.flags&sfHeadersSent == 0:
		return dst, ErrNoHeaders
	case s.flags&sfEndQueued != 0:
		return dst, ErrStreamClosed
	case len(s.q) > 0:
		s.q = append(s.q, p...)
		c.queued += len(p)
		if end {
			s.flags |= sfEndQueued
		}
		return dst, nil
	}
	n := c.window(s, len(p))
	last := end && n == len(p)
	if n > 0 || last {
		dst = appendData(dst, id, p[:n], last)
		c.sendWin -= int32(n)
		s.send -= int32(n)
	}
	if n < len(p) {
		s.q = append(s.q, p[n:]...)
		c.queued += len(p) - n
		if end {
			s.flags |= sfEndQueued
		}
	} else if end {
		c.out = dst
		c.localEnd(i)
		dst, c.out = c.out, nil
	}
	return dst, nil
}

// window returns how many of n bytes the windows let out now.
func (c *Conn) window(s *stream, n int) int {
	return max(0, min(n, int(c.sendWin), int(s.send)))
}

// appendData frames p as DATA frames of at most 16 KiB, END_STREAM on the
// last when end (an empty frame if p is empty).
func appendData(dst []byte, id uint32, p []byte, end bool) []byte {
	for {
		k := min(len(p), maxFrameSize)
		var f uint8
		if end && k == len(p) {
			f = flagEndStream
		}
		dst = appendFrameHeader(dst, k, frameData, f, id)
		dst = append(dst, p[:k]...)
		p = p[k:]
		if len(p) == 0 {
			return dst
		}
	}
}

// flushStream lets out at most limit queued bytes of stream i that the
// windows allow, reporting whether any moved. Ending the stream may remove
// it (and move another stream into index i).
func (c *Conn) flushStream(i int, limit int) bool {
	s := &c.streams[i]
	if len(s.q) == 0 {
		return false
	}
	n := c.window(s, min(len(s.q), limit))
	if n == 0 {
		return false
	}
	last := s.flags&sfEndQueued != 0 && n == len(s.q)
	c.out = appendData(c.out, s.id, s.q[:n], last)
	c.sendWin -= int32(n)
	s.send -= int32(n)
	s.q = s.q[n:]
	c.queued -= n
	if len(s.q) == 0 {
		s.q = nil // an idle stream holds no buffer
	}
	if last {
		c.localEnd(i)
	}
	return true
}

// flushAll lets out queued DATA of every stream, a frame per stream per
// round, so one stream with a large queue cannot take the whole connection
// window from the others.
func (c *Conn) flushAll() {
	for moved := true; moved && c.sendWin > 0; {
		moved = false
		// Backwards: a stream that ends is swapped with the last one,
		// which this round has already visited.
		for i := len(c.streams) - 1; i >= 0; i-- {
			if c.flushStream(i, maxFrameSize) {
				moved = true
			}
		}
	}
}

// localEnd records that our side of stream i ended. A request still being
// sent is stopped with RST_STREAM NO_ERROR (§8.1); either way the stream is
// done.
func (c *Conn) localEnd(i int) {
	if c.streams[i].flags&sfRemoteEnded == 0 {
		c.out = appendRSTStream(c.out, c.streams[i].id, NoError)
	}
	c.remove(i)
}

// Reset appends RST_STREAM with code for stream id and forgets it and its
// queue: how the loop cuts a slow consumer, or a subscriber that leaves.
func (c *Conn) Reset(dst []byte, id uint32, code ErrCode) ([]byte, error) {
	if c.st == stDead {
		return dst, ErrConnClosed
	}
	i := c.find(id)
	if i < 0 {
		return dst, ErrStreamClosed
	}
	dst = appendRSTStream(dst, id, code)
	c.remove(i)
	return dst, nil
}

// GoAway appends GOAWAY with code and the last stream the peer opened: with
// NoError (drain) open streams carry on and new ones are refused; with any
// other code the connection takes no more input and the loop closes it once
// dst is written.
func (c *Conn) GoAway(dst []byte, code ErrCode) []byte {
	if c.st == stDead {
		return dst
	}
	dst = appendGoAway(dst, c.lastID, code)
	c.flags |= cfGoAwaySent
	if code != NoError {
		c.st = stDead
		c.streams, c.queued = nil, 0
		c.dropDecoder()
	}
	return dst
}

// Ping appends a PING for dead-peer detection; its ACK is EventPingAck.
func (c *Conn) Ping(dst []byte, data [8]byte) []byte {
	if c.st == stDead {
		return dst
	}
	c.pingsOut++
	return appendPing(dst, 0, data[:])
}
