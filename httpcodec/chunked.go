package httpcodec

// parseChunked decodes a chunked body (RFC 9112 §7.1) in place: each chunk's
// data is moved down to p.write, so the body ends up contiguous at
// buf[bodyStart:write] while the framing it overwrote is already consumed.
// Extensions are validated and dropped; trailer fields are validated and
// dropped. The loop works byte by byte only on framing; data moves by copy.
func (p *Parser) parseChunked(buf []byte) *Error {
	pos := int(p.pos)
	for pos < len(buf) && p.state < stDone {
		var err *Error
		switch {
		case p.state == stChunkData:
			pos = p.chunkData(buf, pos)
			continue
		case p.state >= stTrailerStart:
			pos, err = p.trailer(buf, pos)
		default:
			if pos-int(p.mark) >= maxChunkLine {
				err = errChunkLineLong
				break
			}
			err = p.chunkLineByte(buf[pos], pos)
			pos++
		}
		if err != nil {
			p.pos = uint32(pos)
			return err
		}
	}
	p.pos = uint32(pos)
	if p.state == stDone {
		p.req.bodyLen = p.write - p.req.bodyStart
	}
	return nil
}

// chunkData moves as much of the current chunk's data as buf holds.
func (p *Parser) chunkData(buf []byte, pos int) int {
	k := uint64(len(buf) - pos)
	if k > p.left {
		k = p.left
	}
	n := copy(buf[p.write:], buf[pos:pos+int(k)])
	p.write += uint32(n)
	p.left -= k
	if p.left == 0 {
		p.state = stChunkDataCR
		// The CRLF after the data starts a new framing line: maxChunkLine
		// bounds framing, not the chunk's data before it.
		p.mark = uint32(pos + n)
	}
	return pos + n
}

// chunkLineByte runs one byte through the chunk-size line grammar:
//
//	chunk-size [ chunk-ext ] CRLF
//	chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//
// except that no whitespace may follow the size itself (see below).
// and through the CRLF that ends each chunk's data.
// pos is c's offset in buf.
func (p *Parser) chunkLineByte(c byte, pos int) *Error {
	switch p.state {
	case stChunkSize:
		if v := hexValue[c]; v != 0xff {
			// At most 16 digits, leading zeros included, as net/http
			// counts them: no sender needs more, and a size that only a
			// lenient parser reads the same way is a smuggling shape.
			if p.colon == maxChunkSizeDigits {
				return errChunkSize
			}
			p.colon++
			p.left = p.left<<4 | uint64(v)
			return nil
		}
		if p.colon == 0 {
			return errChunkSize
		}
		// RFC 9112 allows BWS between the size and ";", but net/http and
		// other parsers refuse it; accepting it would make us the odd one
		// out on a path where disagreement means smuggling.
		switch c {
		case '\r':
			p.state = stChunkLF
		case ';':
			p.state = stChunkExtName0
		default:
			return errChunkSize
		}
	case stChunkExtNameWS, stChunkExtWS:
		// BWS may precede ";" (and "=" after a name), never CRLF.
		switch {
		case c == ' ' || c == '\t':
		case c == ';':
			p.state = stChunkExtName0
		case c == '=' && p.state == stChunkExtNameWS:
			p.state = stChunkExtValue0
		default:
			return errChunkExt
		}
	case stChunkExtName0:
		switch {
		case c == ' ' || c == '\t':
		case byteClass[c]&classToken != 0:
			p.state = stChunkExtName
		default:
			return errChunkExt
		}
	case stChunkExtName:
		return p.afterExtWord(c, stChunkExtNameWS, true, true)
	case stChunkExtValue0:
		switch {
		case c == ' ' || c == '\t':
		case c == '"':
			p.state = stChunkExtQuoted
		case byteClass[c]&classToken != 0:
			p.state = stChunkExtToken
		default:
			return errChunkExt
		}
	case stChunkExtToken:
		return p.afterExtWord(c, stChunkExtWS, false, true)
	case stChunkExtQuoted:
		switch {
		case c == '"':
			p.state = stChunkExtQEnd
		case c == '\\':
			p.state = stChunkExtQPair
		case byteClass[c]&classQdtext == 0:
			return errChunkExt
		}
	case stChunkExtQPair:
		if c != '\t' && byteClass[c]&classValue == 0 {
			return errChunkExt
		}
		p.state = stChunkExtQuoted
	case stChunkExtQEnd:
		return p.afterExtWord(c, stChunkExtWS, false, false)
	case stChunkLF:
		if c != '\n' {
			return errLineEnding
		}
		err := p.startChunk(pos + 1 - int(p.mark))
		p.mark = uint32(pos + 1)
		return err
	case stChunkDataCR:
		if c != '\r' {
			return errChunkData
		}
		p.state = stChunkDataLF
	case stChunkDataLF:
		if c != '\n' {
			return errChunkData
		}
		p.state = stChunkSize
		p.colon = 0
		p.left = 0
		p.mark = uint32(pos + 1)
	}
	return nil
}

// startChunk follows a chunk-size line of lineLen bytes: data comes next, or
// the trailer section after the last (zero-size) chunk.
//
// It also bounds the framing overhead the way net/http does: each chunk may
// carry 16 bytes plus twice its size of framing for free; beyond that the
// excess accumulates, and past 16 KiB the body is refused. One-byte chunks
// pass; long extensions on tiny chunks, which only burn our CPU, do not.
func (p *Parser) startChunk(lineLen int) *Error {
	excess := int64(p.excess) + int64(lineLen) + 2 - 16 - 2*int64(p.left)
	if excess > maxChunkExcess {
		return errChunkOverhead
	}
	p.excess = uint32(max(excess, 0))
	if p.left == 0 {
		p.state = stTrailerStart
		return nil
	}
	if p.left > uint64(p.maxBody-(p.write-p.req.bodyStart)) {
		return errBodyTooLarge
	}
	p.state = stChunkData
	return nil
}

// afterExtWord handles a byte inside or after an extension name or value:
// inWord says more token bytes may follow, isName that "=" may.
func (p *Parser) afterExtWord(c byte, ws uint8, isName, inWord bool) *Error {
	switch {
	case inWord && byteClass[c]&classToken != 0:
	case c == ' ' || c == '\t':
		p.state = ws
	case c == ';':
		p.state = stChunkExtName0
	case c == '=' && isName:
		p.state = stChunkExtValue0
	case c == '\r':
		p.state = stChunkLF
	default:
		return errChunkExt
	}
	return nil
}
