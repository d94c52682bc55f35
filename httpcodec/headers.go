package httpcodec

// parseFields scans header field lines up to the blank line that ends the
// head. It reports more=true when the head is complete.
func (p *Parser) parseFields(buf []byte) (more bool, err *Error) {
	end := len(buf)
	capped := false
	if end > int(p.maxHead) {
		end, capped = int(p.maxHead), true
	}
	s := buf[:end]
	pos := int(p.pos)
	for pos < len(s) {
		switch p.state {
		case stFieldStart:
			switch c := s[pos]; {
			case c == '\r':
				p.state = stHeadLF
			case c == ' ' || c == '\t':
				return false, errObsFold
			case c == '\n':
				return false, errLineEnding
			case byteClass[c]&classToken == 0:
				return false, errFieldName
			case int(p.req.nFields) == int(p.maxFields):
				return false, errTooManyHeaders
			default:
				p.mark = uint32(pos)
				p.state = stFieldName
			}
			pos++
		case stFieldName:
			for pos < len(s) && byteClass[s[pos]]&classToken != 0 {
				pos++
			}
			if pos == len(s) {
				break
			}
			switch s[pos] {
			case ':':
				p.colon = uint32(pos)
				p.state = stFieldValue
				pos++
			case ' ', '\t':
				return false, errSpaceBeforeColon
			default:
				return false, errFieldName
			}
		case stFieldValue:
			for pos < len(s) && byteClass[s[pos]]&classValue != 0 {
				pos++
			}
			if pos == len(s) {
				break
			}
			switch s[pos] {
			case '\r':
				p.state = stFieldLF
				pos++
			case '\n':
				return false, errLineEnding
			default:
				return false, errFieldValue
			}
		case stFieldLF:
			if s[pos] != '\n' {
				return false, errLineEnding
			}
			p.req.ends[p.req.nFields] = uint16(pos - 1)
			p.req.nFields++
			name := s[p.mark:p.colon]
			value := trimOWS(s[p.colon+1 : pos-1])
			pos++
			p.state = stFieldStart
			if err := p.field(name, value); err != nil {
				return false, err
			}
		case stHeadLF:
			if s[pos] != '\n' {
				return false, errLineEnding
			}
			pos++
			p.pos = uint32(pos)
			return true, p.endHead()
		}
	}
	p.pos = uint32(pos)
	if capped {
		return false, errHeadTooLarge
	}
	return false, nil
}

// field applies the framing meaning of one header field: the fields that
// decide where the body ends, Host, and the connection options.
func (p *Parser) field(name, value []byte) *Error {
	switch len(name) {
	case len("host"):
		if !equalFold(name, "host") {
			return nil
		}
		if p.req.host != 0 {
			return errHostRepeated
		}
		for _, c := range value {
			if byteClass[c]&classHost == 0 {
				return errHostValue
			}
		}
		p.req.host = p.req.nFields
	case len("expect"):
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			p.req.flags |= rfExpectContinue
		}
	case len("connection"):
		if equalFold(name, "connection") {
			p.connection(value)
		}
	case len("content-length"):
		if equalFold(name, "content-length") {
			return p.contentLength(value)
		}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			return p.transferEncoding(value)
		}
	}
	return nil
}

// contentLength accepts one Content-Length of 1*DIGIT. A repeated field is
// rejected even when the values agree, and so is a comma list: either would
// let two parsers on the path disagree on the framing.
func (p *Parser) contentLength(v []byte) *Error {
	if p.flags&pfContentLength != 0 {
		return errCLRepeated
	}
	if p.flags&pfTransferEncoding != 0 {
		return errCLAndTE
	}
	if len(v) == 0 {
		return errContentLength
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) {
			return errContentLength
		}
		if n > (1<<63-1-9)/10 {
			return errContentLength
		}
		n = n*10 + uint64(c-'0')
	}
	p.flags |= pfContentLength
	p.left = n
	return nil
}

// transferEncoding accepts only "chunked" as the single, final coding. We
// decode no other coding, so one before chunked is 501; anything after
// chunked, or chunked twice, is 400 (RFC 9112 §6.1, §6.3).
func (p *Parser) transferEncoding(v []byte) *Error {
	if p.req.minor == 0 {
		return errTEOn10
	}
	if p.flags&pfContentLength != 0 {
		return errCLAndTE
	}
	p.flags |= pfTransferEncoding
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		if len(elem) == 0 || !isToken(elem) {
			return errTEBad
		}
		if p.flags&pfChunked != 0 {
			if equalFold(elem, "chunked") {
				return errTEChunkedTwice
			}
			return errTEChunkedNotLast
		}
		if !equalFold(elem, "chunked") {
			return errTEUnsupported
		}
		p.flags |= pfChunked
	}
	if p.flags&pfChunked == 0 {
		return errTEBad
	}
	return nil
}

// connection records the close and keep-alive options.
func (p *Parser) connection(v []byte) {
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		switch {
		case equalFold(elem, "close"):
			p.flags |= pfConnClose
		case equalFold(elem, "keep-alive"):
			p.flags |= pfConnKeepAlive
		}
	}
}

// endHead checks what only the whole head can tell and picks the body framing.
func (p *Parser) endHead() *Error {
	r := &p.req
	if r.minor == 1 && r.host == 0 {
		return errHostMissing
	}
	if p.flags&pfConnClose == 0 && (r.minor == 1 || p.flags&pfConnKeepAlive != 0) {
		r.flags |= rfKeepAlive
	}
	r.bodyStart = p.pos
	switch {
	case p.flags&pfChunked != 0:
		p.write = p.pos
		p.left = 0
		p.mark = p.pos
		p.colon = 0
		p.state = stChunkSize
	case p.flags&pfContentLength != 0:
		if p.left > uint64(p.maxBody) {
			return errBodyTooLarge
		}
		p.state = stBodyCL
	default:
		p.state = stDone
	}
	return nil
}

// nextListElem splits the first element off a comma-separated field value,
// trimming optional whitespace around it.
func nextListElem(v []byte) (elem, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

func isToken(b []byte) bool {
	for _, c := range b {
		if byteClass[c]&classToken == 0 {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if toLower[b[i]] != toLower[s[i]] {
			return false
		}
	}
	return true
}
