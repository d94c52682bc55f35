package httpcodec

// Limits bound what one request may use. Zero fields take the defaults.
type Limits struct {
	MaxRequestLine int   // without CRLF; 0 = 8 KiB (over → 414); at most 65535
	MaxHeaderBytes int   // whole head; 0 = 8 KiB (over → 431); at most 65535
	MaxHeaders     int   // 0 = 64 (over → 431); at most 64
	MaxBody        int64 // 0 = 1 MiB (over → 413); at most 1 GiB
}

const (
	defaultMaxRequestLine = 8 << 10
	defaultMaxHeaderBytes = 8 << 10
	// maxFieldSlots sizes Request's fixed offset array. Header offsets are
	// uint16, which is why the head limits stop at 65535.
	maxFieldSlots  = 64
	maxHeadLimit   = 1<<16 - 1
	defaultMaxBody = 1 << 20
	maxBodyLimit   = 1 << 30
	// maxChunkLine bounds one chunk-size line including its extensions;
	// extensions are discarded, so a peer must not make us hold many of them.
	maxChunkLine = 4 << 10
	// maxChunkSizeDigits and maxChunkExcess match net/http's chunked reader.
	maxChunkSizeDigits = 16
	maxChunkExcess     = 16 << 10
)

// Parser states, in wire order. Every state below stBodyCL belongs to the head,
// which lets HeadComplete and Parse compare instead of switching.
const (
	stLead   uint8 = iota // before the request line: one empty line may come first
	stLeadLF              // the CR of that empty line is in; its LF must follow
	stMethod
	stTarget
	stVersion
	stLineLF
	stFieldStart
	stFieldName
	stFieldValue
	stFieldLF
	stHeadLF
	stBodyCL // first body state
	stChunkSize
	stChunkExtName0
	stChunkExtName
	stChunkExtNameWS
	stChunkExtValue0
	stChunkExtToken
	stChunkExtQuoted
	stChunkExtQPair
	stChunkExtQEnd
	stChunkExtWS
	stChunkLF
	stChunkData
	stChunkDataCR
	stChunkDataLF
	stTrailerStart
	stTrailerName
	stTrailerValue
	stTrailerLF
	stTrailerEndLF
	stDone
	stError
)

// Parser flags: framing facts gathered from the header fields.
const (
	pfContentLength uint8 = 1 << iota
	pfTransferEncoding
	pfChunked
	pfConnClose
	pfConnKeepAlive
)

// Parser parses one request at a time out of a connection's inbound bytes.
//
// It is resumable: each call to Parse gets buf starting at the first byte of
// the current request and extending the buf of the previous call, and it
// continues at the byte where that call stopped. It never rescans.
//
// A chunked body is de-chunked in place: data bytes are moved down over the
// chunk framing inside buf, so the caller must carry buf's bytes as Parse left
// them. The zero value is not ready; use NewParser or Reset.
//
// Parser is small (about 200 bytes) and holds no pointers into the heap other
// than the current buf, so connections borrow one from a pool only while a
// request is in flight.
type Parser struct {
	req    Request
	err    *Error
	left   uint64 // Content-Length or chunk-size still to come; chunk-size digits while on a size line
	pos    uint32 // next byte of buf to examine
	mark   uint32 // start of the current field, trailer or chunk line
	colon  uint32 // the current field's ':'; in a chunked body, digits of the chunk-size line
	excess uint32 // chunk framing beyond the free allowance (see startChunk)
	write  uint32 // de-chunked body end: where the next data byte is moved to

	maxBody   uint32
	maxLine   uint16
	maxHead   uint16
	maxFields uint8
	state     uint8
	flags     uint8
	pct       uint8 // hex digits still owed by a '%' in the target
}

// NewParser returns a Parser ready for its first request.
func NewParser(lim Limits) *Parser {
	p := new(Parser)
	p.Reset(lim)
	return p
}

// Reset sets the limits and readies p for a new request, dropping any state.
func (p *Parser) Reset(lim Limits) {
	p.maxLine = uint16(clampLimit(int64(lim.MaxRequestLine), defaultMaxRequestLine, maxHeadLimit))
	p.maxHead = uint16(clampLimit(int64(lim.MaxHeaderBytes), defaultMaxHeaderBytes, maxHeadLimit))
	p.maxFields = uint8(clampLimit(int64(lim.MaxHeaders), maxFieldSlots, maxFieldSlots))
	p.maxBody = uint32(clampLimit(lim.MaxBody, defaultMaxBody, maxBodyLimit))
	p.begin()
}

func clampLimit(v, def, max int64) int64 {
	if v <= 0 {
		return def
	}
	return min(v, max)
}

// begin clears the per-request state, keeping the limits.
func (p *Parser) begin() {
	*p = Parser{maxBody: p.maxBody, maxLine: p.maxLine, maxHead: p.maxHead, maxFields: p.maxFields}
}

// Parse continues parsing the request at the start of buf.
//
// It returns (n, nil), n > 0, once a whole request (head and body) is
// buf[:n]: the next pipelined request, if any, starts at buf[n]. It returns
// (0, nil) when it needs more bytes: call again with buf extended. It returns
// (0, *Error) for a malformed request; the connection should get e.Status and
// be closed, and every later call returns the same error until Reset.
//
// After a complete request the next call starts a new request, so the caller
// passes buf[n:] (or buf with the consumed bytes dropped) next time.
func (p *Parser) Parse(buf []byte) (int, error) {
	switch p.state {
	case stDone:
		p.begin()
	case stError:
		return 0, p.err
	}
	if uint64(len(buf)) < uint64(p.pos) {
		panic("httpcodec: Parse got a buf shorter than the bytes it already consumed")
	}
	if uint64(len(buf)) >= 1<<32-1 {
		return 0, p.fail(errBodyTooLarge)
	}
	p.req.buf = buf
	if p.state < stBodyCL {
		if err := p.parseHead(buf); err != nil {
			return 0, p.fail(err)
		}
		if p.state < stBodyCL {
			return 0, nil
		}
	}
	if err := p.parseBody(buf); err != nil {
		return 0, p.fail(err)
	}
	if p.state != stDone {
		return 0, nil
	}
	return int(p.pos), nil
}

func (p *Parser) fail(e *Error) *Error {
	p.state, p.err = stError, e
	return e
}

// Idle reports that nothing of a request has arrived yet but, at most, the
// empty line that may precede its request line: a connection in this state
// is idle between requests, not sending a head slowly.
func (p *Parser) Idle() bool {
	return p.state == stLead || p.state == stLeadLF ||
		p.state == stMethod && p.pos == uint32(p.req.lineStart)
}

// HeadComplete reports that the head of the current request is parsed and
// its body is still arriving: the moment to answer "Expect: 100-continue".
// The head accessors of Request are valid from then on.
func (p *Parser) HeadComplete() bool {
	return p.state >= stBodyCL && p.state < stDone
}

// Request returns the parsed request. It is complete after Parse returned
// n > 0 (its head alone once HeadComplete is true) and stays valid until buf
// is modified or Reset or Parse is called again.
func (p *Parser) Request() *Request { return &p.req }
