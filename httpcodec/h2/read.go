package h2

// beginFrame checks a frame header against the connection's state (RFC 9113
// §4-6) and picks how its payload is read.
func (c *Conn) beginFrame() {
	h := &c.hdr
	c.left = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
	c.ftype, c.fflags, c.pad = h[3], h[4], 0
	c.fstream = getUint32(h[5:]) & 0x7fffffff
	switch {
	case c.flags&cfSettingsSeen == 0 && (c.ftype != frameSettings || c.fflags&flagAck != 0):
		c.fail(ProtocolError) // the preface ends with a SETTINGS frame (§3.4)
		return
	case c.left > maxFrameSize:
		c.fail(FrameSizeError)
		return
	case c.blk.active && c.ftype != frameContinuation:
		c.fail(ProtocolError) // a header block is never interleaved (§6.10)
		return
	}
	switch c.ftype {
	case frameData:
		c.beginData()
	case frameHeaders:
		c.beginHeaders()
	case frameContinuation:
		c.beginContinuation()
	case framePriority:
		c.beginPriority()
	case frameRSTStream:
		c.beginFixed(c.fstream != 0, c.left == 4, 4)
		if c.st != stDead && c.fstream > c.lastID {
			c.fail(ProtocolError) // RST_STREAM on an idle stream (§6.4)
		}
	case frameSettings:
		c.beginSettings()
	case framePushPromise:
		c.fail(ProtocolError) // clients never push (§8.4)
	case framePing:
		if c.fflags&flagAck == 0 {
			c.budget(&c.pings, c.lim.maxPings)
		}
		c.beginFixed(c.fstream == 0, c.left == 8, 8)
	case frameGoAway:
		c.beginFixed(c.fstream == 0, c.left >= 8, 8)
	case frameWindowUpdate:
		c.beginFixed(true, c.left == 4, 4)
		if c.st != stDead && c.fstream > c.lastID {
			c.fail(ProtocolError) // WINDOW_UPDATE on an idle stream (§5.1)
		}
	default:
		// Unknown types are ignored (§4.1, §5.5), within the budget for
		// frames that carry nothing.
		c.budget(&c.empty, c.lim.maxEmpty)
		c.toContent()
	}
}

// beginFixed starts a frame whose payload is one fixed part.
func (c *Conn) beginFixed(streamOK, sizeOK bool, n int) {
	if !streamOK {
		c.fail(ProtocolError)
		return
	}
	if !sizeOK {
		c.fail(FrameSizeError)
		return
	}
	if c.st != stDead {
		c.toFixed(n)
	}
}

func (c *Conn) beginSettings() {
	switch {
	case c.fstream != 0:
		c.fail(ProtocolError)
	case c.fflags&flagAck != 0 && c.left != 0, c.left%6 != 0:
		c.fail(FrameSizeError)
	default:
		c.budget(&c.settings, c.lim.maxSettings)
		if c.st == stDead {
			return
		}
		if c.left == 0 {
			c.toContent()
		} else {
			c.toFixed(6)
		}
	}
}

func (c *Conn) beginPriority() {
	switch {
	case c.fstream == 0:
		c.fail(ProtocolError)
	case c.left != 5:
		// A stream error (§6.3): answered, its payload skipped.
		c.streamError(c.fstream, FrameSizeError)
		c.toContent()
	default:
		c.budget(&c.empty, c.lim.maxEmpty)
		if c.st != stDead {
			c.toFixed(5)
		}
	}
}

// streamError answers a stream error with RST_STREAM, forgetting the stream
// and reporting it if it was open.
func (c *Conn) streamError(id uint32, code ErrCode) {
	if i := c.find(id); i >= 0 {
		c.resetStream(i, code)
		return
	}
	c.out = appendRSTStream(c.out, id, code)
}

// onFixed handles a frame's fixed part once collected.
func (c *Conn) onFixed() {
	f := c.fix[:]
	switch c.ftype {
	case frameData:
		c.pad = uint32(f[0])
		if c.pad > c.left {
			c.fail(ProtocolError) // padding as long as the payload (§6.1)
			return
		}
		c.dataContent()
		return
	case frameHeaders:
		c.headersFixed()
	case framePriority:
		if getUint32(f)&0x7fffffff == c.fstream {
			c.streamError(c.fstream, ProtocolError) // depends on itself (§5.3.1)
		}
	case frameRSTStream:
		c.onRSTStream(ErrCode(getUint32(f)))
	case frameSettings:
		c.onSetting(uint16(f[0])<<8|uint16(f[1]), getUint32(f[2:]))
		if c.st != stDead && c.left > 0 {
			c.toFixed(6)
			return
		}
	case framePing:
		if c.fflags&flagAck == 0 {
			c.out = appendPing(c.out, flagAck, f)
		} else if c.pingsOut > 0 {
			c.pingsOut--
			c.ev = Event{Kind: EventPingAck}
		} else {
			c.budget(&c.empty, c.lim.maxEmpty) // an ACK nobody asked for
		}
	case frameGoAway:
		c.flags |= cfGoAwayRecv
		c.ev = Event{Kind: EventGoAway, Code: ErrCode(getUint32(f[4:]))}
	case frameWindowUpdate:
		c.onWindowUpdate(getUint32(f) & 0x7fffffff)
	}
	c.toContent()
}

// onContent takes payload bytes (no padding) of the current frame.
func (c *Conn) onContent(p []byte) {
	switch c.ftype {
	case frameData:
		c.onData(p)
	case frameHeaders, frameContinuation:
		c.decode(p)
	}
	// Other types' variable parts (GOAWAY debug data, unknown frames,
	// a bad PRIORITY) are dropped.
}

// frameDone finishes the current frame once its last byte is in.
func (c *Conn) frameDone() {
	switch c.ftype {
	case frameData:
		if c.fflags&flagEndStream != 0 {
			c.endData()
		}
	case frameHeaders, frameContinuation:
		if c.fflags&flagEndHeaders != 0 {
			c.finishBlock()
		}
	case frameSettings:
		if c.fflags&flagAck == 0 {
			c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
			c.flags |= cfSettingsSeen
			c.flushAll()
		} else {
			c.onSettingsAck()
		}
		if c.flags&(cfSettingsSeen|cfSettingsAcked|cfReady) == cfSettingsSeen|cfSettingsAcked {
			c.flags |= cfReady
			c.ev = Event{Kind: EventReady}
		}
	}
}

func (c *Conn) onRSTStream(code ErrCode) {
	i := c.find(c.fstream)
	if i < 0 {
		return // already closed on our side
	}
	c.remove(i)
	c.ev = Event{Kind: EventReset, Stream: c.fstream, Code: code}
	c.budget(&c.resets, c.lim.maxResets)
}

// onSetting applies one SETTINGS parameter (§6.5.2); unknown ones are ignored.
func (c *Conn) onSetting(id uint16, v uint32) {
	switch id {
	case settingEnablePush:
		if v > 1 {
			c.fail(ProtocolError)
		}
	case settingInitialWindowSize:
		if v > maxWindow {
			c.fail(FlowControlError)
			return
		}
		delta := int64(v) - int64(c.peerInit)
		for i := range c.streams {
			s := &c.streams[i]
			if int64(s.send)+delta > maxWindow {
				c.fail(FlowControlError)
				return
			}
			s.send += int32(delta)
		}
		c.peerInit = int32(v)
	case settingMaxFrameSize:
		if v < maxFrameSize || v > 1<<24-1 {
			c.fail(ProtocolError)
		}
	}
	// SETTINGS_HEADER_TABLE_SIZE needs nothing: our encoder never indexes,
	// and our first header block sets our table to 0 (header/encode.go).
}

func (c *Conn) onWindowUpdate(incr uint32) {
	if c.fstream == 0 {
		if incr == 0 || int64(c.sendWin)+int64(incr) > maxWindow {
			c.fail(map2(incr == 0, ProtocolError, FlowControlError))
			return
		}
		c.sendWin += int32(incr)
		c.flushAll()
		c.ev = Event{Kind: EventWindow}
		return
	}
	i := c.find(c.fstream)
	switch {
	case incr == 0:
		c.streamError(c.fstream, ProtocolError)
	case i < 0:
		// A closed stream: the peer may not know yet (§5.1). Free to
		// ignore, so within the budget for frames that carry nothing.
		c.budget(&c.empty, c.lim.maxEmpty)
	case int64(c.streams[i].send)+int64(incr) > maxWindow:
		c.resetStream(i, FlowControlError)
	default:
		c.streams[i].send += int32(incr)
		c.flushStream(i, maxWindow)
		c.ev = Event{Kind: EventWindow, Stream: c.fstream}
	}
}

func map2(cond bool, a, b ErrCode) ErrCode {
	if cond {
		return a
	}
	return b
}
