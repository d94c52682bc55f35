package httpcodec

// trailer scans the trailer section after the last chunk. Trailer fields are
// checked like header fields and then dropped: nothing downstream uses them,
// and honouring them would let a body's tail rewrite its head. The section is
// bounded by the head limit.
func (p *Parser) trailer(buf []byte, pos int) (int, *Error) {
	end := len(buf)
	capped := false
	if lim := int(p.mark) + int(p.maxHead); end > lim {
		end, capped = lim, true
	}
	for pos < end {
		c := buf[pos]
		switch p.state {
		case stTrailerStart:
			switch {
			case c == '\r':
				p.state = stTrailerEndLF
			case c == ' ' || c == '\t':
				return pos, errObsFold
			case byteClass[c]&classToken != 0:
				p.state = stTrailerName
			default:
				return pos, errTrailer
			}
		case stTrailerName:
			switch {
			case c == ':':
				p.state = stTrailerValue
			case byteClass[c]&classToken == 0:
				return pos, errTrailer
			}
		case stTrailerValue:
			switch {
			case c == '\r':
				p.state = stTrailerLF
			case byteClass[c]&classValue == 0:
				return pos, errTrailer
			}
		case stTrailerLF, stTrailerEndLF:
			if c != '\n' {
				return pos, errLineEnding
			}
			if p.state == stTrailerEndLF {
				p.state = stDone
				return pos + 1, nil
			}
			p.state = stTrailerStart
		}
		pos++
	}
	if capped {
		return pos, errHeadTooLarge
	}
	return pos, nil
}
