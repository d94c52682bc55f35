package httpcodec

// parseBody advances through the body. A Content-Length body needs no
// scanning: the request is complete once buf holds it all.
func (p *Parser) parseBody(buf []byte) *Error {
	if p.state == stBodyCL {
		if uint64(len(buf))-uint64(p.req.bodyStart) < p.left {
			return nil
		}
		p.req.bodyLen = uint32(p.left)
		p.pos = p.req.bodyStart + uint32(p.left)
		p.state = stDone
		return nil
	}
	if p.state < stDone {
		return p.parseChunked(buf)
	}
	return nil
}
