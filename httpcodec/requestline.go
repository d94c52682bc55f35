package httpcodec

// parseHead runs the head states over buf until the head is complete, an
// error is found, or buf (or the limit in force) runs out.
func (p *Parser) parseHead(buf []byte) *Error {
	for p.state < stBodyCL {
		var err *Error
		var more bool
		if p.state <= stLineLF {
			more, err = p.parseRequestLine(buf)
		} else {
			more, err = p.parseFields(buf)
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// lineLimit is where the request-line scan must stop: the request line
// (without CRLF) may be at most maxLine bytes, so its CR may sit at index
// maxLine and its LF at maxLine+1.
func (p *Parser) lineLimit(n int) (end int, capped bool) {
	lim := int(p.maxLine) + 2
	if n < lim {
		return n, false
	}
	return lim, true
}

// parseRequestLine scans the method, target and version. It reports more=false
// when it stopped for want of bytes.
func (p *Parser) parseRequestLine(buf []byte) (more bool, err *Error) {
	end, capped := p.lineLimit(len(buf))
	pos, more, err := p.scanRequestLine(buf[:end], int(p.pos))
	p.pos = uint32(pos)
	if err == nil && !more && capped {
		err = errRequestLineLong
	}
	return more, err
}

// scanRequestLine runs the request-line states over s from pos.
func (p *Parser) scanRequestLine(s []byte, pos int) (int, bool, *Error) {
	for pos < len(s) {
		switch p.state {
		case stLead, stLeadLF:
			var err *Error
			if pos, err = p.scanLead(s, pos); err != nil {
				return pos, false, err
			}
		case stMethod:
			for pos < len(s) && byteClass[s[pos]]&classToken != 0 {
				pos++
			}
			if pos == len(s) {
				break
			}
			if s[pos] != ' ' || pos == int(p.req.lineStart) {
				return pos, false, errMethod
			}
			p.req.methodEnd = uint16(pos)
			pos++
			p.state = stTarget
		case stTarget:
			var err *Error
			if pos, err = p.scanTarget(s, pos); err != nil {
				return pos, false, err
			}
		case stVersion:
			for pos < len(s) && s[pos] != '\r' {
				if s[pos] == '\n' {
					return pos, false, errLineEnding
				}
				pos++
				if pos-int(p.req.targetEnd)-1 > len("HTTP/1.1") {
					return pos, false, errVersion
				}
			}
			if pos == len(s) {
				break
			}
			if err := p.setVersion(s[p.req.targetEnd+1 : pos]); err != nil {
				return pos, false, err
			}
			p.req.lineEnd = uint16(pos)
			pos++
			p.state = stLineLF
		case stLineLF:
			if s[pos] != '\n' {
				return pos, false, errLineEnding
			}
			pos++
			p.state = stFieldStart
			return pos, true, nil
		}
	}
	return pos, false, nil
}

// scanLead skips one empty line (CRLF) before the request line, which RFC
// 9112 §2.2 asks a server to ignore: some clients send a CRLF after a POST
// body. Only one: a second one fails as a bad method, so the skipping gives
// a smuggler no room. A bare LF is refused like a bare LF anywhere else in
// the head. The skipped line counts toward the request-line and head limits,
// which keeps every offset within uint16.
func (p *Parser) scanLead(s []byte, pos int) (int, *Error) {
	c := s[pos]
	switch {
	case p.state == stLeadLF:
		if c != '\n' {
			return pos, errLineEnding
		}
		p.req.lineStart = uint8(pos + 1)
		p.state = stMethod
		return pos + 1, nil
	case c == '\r':
		p.state = stLeadLF
		return pos + 1, nil
	case c == '\n':
		return pos, errLineEnding
	}
	p.state = stMethod
	return pos, nil
}

// scanTarget consumes target bytes from pos. At the SP that ends the target
// it checks the target's form and moves to stVersion.
func (p *Parser) scanTarget(s []byte, pos int) (int, *Error) {
	for ; pos < len(s); pos++ {
		c := s[pos]
		if p.pct > 0 {
			if hexValue[c] == 0xff {
				return pos, errTarget
			}
			p.pct--
			continue
		}
		if byteClass[c]&classTarget != 0 {
			if c == '%' {
				p.pct = 2
			}
			continue
		}
		if c != ' ' || pos == int(p.req.methodEnd)+1 {
			return pos, errTarget
		}
		p.req.targetEnd = uint16(pos)
		if !p.req.validTarget() {
			return pos, errTarget
		}
		p.state = stVersion
		return pos + 1, nil
	}
	return pos, nil
}

// setVersion accepts exactly HTTP/1.0 and HTTP/1.1. A later 1.x minor is
// served as 1.1 (RFC 9112 §2.3); a well-formed other major gets 505.
func (p *Parser) setVersion(v []byte) *Error {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		!isDigit(v[5]) || !isDigit(v[7]) {
		return errVersion
	}
	if v[5] != '1' {
		return errVersionNotSup
	}
	if v[7] == '0' {
		p.req.minor = 0
	} else {
		p.req.minor = 1
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
