package h2

// replenishAt is when consumed DATA is given back to the peer's connection
// window: a quarter of it, so a body never waits on us and the updates stay
// few.
const replenishAt = defaultWindow / 4

// beginData checks a DATA frame against flow control and the stream's state.
// Whole frames are charged up front (padding included, §6.9.1); the bytes are
// handed to the caller as views and never held, so the connection window is
// given back as soon as they are read.
func (c *Conn) beginData() {
	id, n := c.fstream, int32(c.left)
	c.dataID = 0
	if id == 0 {
		c.fail(ProtocolError)
		return
	}
	if n > c.recvWin {
		c.fail(FlowControlError)
		return
	}
	c.recvWin -= n
	c.recvUnacked += n
	if c.recvUnacked >= replenishAt {
		c.out = appendWindowUpdate(c.out, 0, uint32(c.recvUnacked))
		c.recvWin += c.recvUnacked
		c.recvUnacked = 0
	}
	if n == 0 && c.fflags&flagEndStream == 0 {
		c.budget(&c.empty, c.lim.maxEmpty)
	}
	i := c.find(id)
	switch {
	case i < 0 && id > c.lastID:
		c.fail(ProtocolError) // DATA on an idle stream (§5.1)
		return
	case i < 0:
		// Closed: we reset it or it ended. STREAM_CLOSED (§5.1), within the
		// reset budget so it cannot be farmed.
		c.out = appendRSTStream(c.out, id, StreamClosed)
		c.budget(&c.resets, c.lim.maxResets)
	case c.streams[i].flags&sfRemoteEnded != 0:
		c.resetStream(i, StreamClosed)
	case n > c.streams[i].recv:
		c.resetStream(i, FlowControlError)
	default:
		c.streams[i].recv -= n
		c.dataID = id
	}
	if c.st == stDead {
		return
	}
	if c.fflags&flagPadded != 0 {
		if c.left < 1 {
			c.fail(FrameSizeError)
			return
		}
		c.toFixed(1)
		return
	}
	c.dataContent()
}

// dataContent checks the DATA frame's content, its size known once the
// padding is, against the declared Content-Length before any of it is
// handed on (§8.1.1: a mismatch makes the request malformed), so the caller
// never sees bytes of a body that turns out malformed in this frame.
func (c *Conn) dataContent() {
	if c.dataID != 0 {
		i := c.find(c.dataID)
		n := int32(c.left - c.pad)
		if s := &c.streams[i]; s.clen >= 0 && (n > s.clen || (c.fflags&flagEndStream != 0 && n != s.clen)) {
			c.dataID = 0
			c.resetStream(i, ProtocolError)
		}
	}
	c.toContent()
}

// onData hands body bytes to the caller, checking them against the declared
// Content-Length (§8.1.1: a mismatch makes the request malformed).
func (c *Conn) onData(p []byte) {
	if c.dataID == 0 {
		return
	}
	i := c.find(c.dataID)
	if i < 0 {
		c.dataID = 0 // the caller reset it meanwhile
		return
	}
	if s := &c.streams[i]; s.clen >= 0 {
		s.clen -= int32(len(p)) // checked whole by dataContent
	}
	c.ev = Event{Kind: EventData, Stream: c.dataID, Data: p}
}

// endData closes the request side on END_STREAM.
func (c *Conn) endData() {
	if c.dataID == 0 {
		return
	}
	id := c.dataID
	c.dataID = 0
	if i := c.find(id); i >= 0 {
		c.endRequest(i)
	}
}

// endRequest marks stream i's request complete, reporting it; a body shorter
// than its Content-Length makes the request malformed.
func (c *Conn) endRequest(i int) {
	s := &c.streams[i]
	if s.clen > 0 {
		c.resetStream(i, ProtocolError)
		return
	}
	s.flags |= sfRemoteEnded
	if c.ev.Kind == EventData && c.ev.Stream == s.id {
		c.ev.EndStream = true // the frame's last bytes and its end in one event
		return
	}
	c.ev = Event{Kind: EventData, Stream: s.id, EndStream: true}
}
