package header

import "golang.org/x/net/http2/hpack"

// fieldRef locates one decoded field in Block.buf: name is buf[off:mid],
// value buf[mid:end]. end is 0 for an absent pseudo-header (a name is never
// empty, so a present field ends past 0).
type fieldRef struct{ off, mid, end uint16 }

// Pseudo-header slots.
const (
	pMethod = iota
	pScheme
	pAuthority
	pPath
	nPseudo
)

// Block holds one request header block's decoded fields, copied out of the
// HPACK decoder's strings (the decoder gives out a string per field: the one
// allocation a request costs; requests are rare on a push edge), and checks
// them against RFC 9113 §8.2-8.3 as they come. The h2 codec pools them: a
// connection holds one only while a block is decoded and its views are
// valid. A Block belongs to one connection's loop; nothing here locks.
type Block struct {
	buf     []byte
	fields  []fieldRef // regular fields, in order
	pseudo  [nPseudo]fieldRef
	size    uint32 // decoded size as SETTINGS_MAX_HEADER_LIST_SIZE counts it
	max     uint32
	clen    int64 // content-length; -1 when absent
	over    bool  // past max: the request is answered 431
	bad     bool  // malformed (§8.1.1): RST_STREAM PROTOCOL_ERROR
	regular bool  // a regular field was seen (pseudo-headers come first)
	emitFn  func(hpack.HeaderField)
	req     Request
}

// NewBlock returns an empty Block; Reset readies it for a header block.
func NewBlock() *Block {
	hb := &Block{}
	hb.emitFn = hb.emit // bound once: SetEmitFunc then costs nothing per block
	hb.req.hb = hb
	return hb
}

// Reset empties the block, keeping its buffers, for a header block whose
// decoded list may take max bytes (counted as SETTINGS_MAX_HEADER_LIST_SIZE
// counts them).
func (hb *Block) Reset(max uint32) {
	hb.buf, hb.fields = hb.buf[:0], hb.fields[:0]
	hb.pseudo = [nPseudo]fieldRef{}
	hb.size, hb.max, hb.clen = 0, max, -1
	hb.over, hb.bad, hb.regular = false, false, false
}

// EmitFunc returns the function the HPACK decoder gives each decoded field
// (hpack.Decoder.SetEmitFunc); it is bound once, so handing it over costs
// nothing per block.
func (hb *Block) EmitFunc() func(hpack.HeaderField) { return hb.emitFn }

// Over reports whether the decoded list went past its limit: the request is
// answered 431, and the rest of the block need not be emitted.
func (hb *Block) Over() bool { return hb.over }

// Malformed reports whether a field broke RFC 9113 §8.2-8.3 (or the
// pseudo-headers a request needs are missing): the stream is reset with
// PROTOCOL_ERROR.
func (hb *Block) Malformed() bool { return hb.bad || !hb.complete() }

// ContentLength returns the request's content-length, -1 when it has none.
func (hb *Block) ContentLength() int64 { return hb.clen }

// Held returns the capacity of the field buffer, the bytes the block keeps
// between uses (bounded by the limit given to Reset).
func (hb *Block) Held() int { return cap(hb.buf) }

// Request returns the decoded request as views into the block, valid until
// the next Reset.
func (hb *Block) Request() *Request { return &hb.req }

// emit takes one decoded field and checks it against RFC 9113 §8.2-8.3.
func (hb *Block) emit(f hpack.HeaderField) {
	hb.size += uint32(len(f.Name)+len(f.Value)) + 32
	if hb.size > hb.max {
		hb.over = true
		return
	}
	off := len(hb.buf)
	hb.buf = append(hb.buf, f.Name...)
	mid := len(hb.buf)
	hb.buf = append(hb.buf, f.Value...)
	ref := fieldRef{uint16(off), uint16(mid), uint16(len(hb.buf))}
	if !validValue(f.Value) {
		hb.bad = true
	}
	if len(f.Name) > 0 && f.Name[0] == ':' {
		hb.pseudoField(f.Name, ref)
		return
	}
	hb.regular = true
	if !validName(f.Name) {
		hb.bad = true
	}
	switch f.Name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		hb.bad = true // connection-specific (§8.2.2)
	case "te":
		hb.bad = hb.bad || f.Value != "trailers"
	case "content-length":
		v := parseLength(f.Value)
		if v < 0 || (hb.clen >= 0 && hb.clen != v) {
			hb.bad = true
		}
		hb.clen = v
	}
	hb.fields = append(hb.fields, ref)
}

func (hb *Block) pseudoField(name string, ref fieldRef) {
	slot := -1
	switch name {
	case ":method":
		slot = pMethod
	case ":scheme":
		slot = pScheme
	case ":authority":
		slot = pAuthority
	case ":path":
		slot = pPath
	}
	// Unknown or response pseudo-headers, after a regular field, or twice.
	if slot < 0 || hb.regular || hb.pseudo[slot].end != 0 {
		hb.bad = true
		return
	}
	hb.pseudo[slot] = ref
}

// complete checks the pseudo-headers a request needs (§8.3.1).
func (hb *Block) complete() bool {
	p := &hb.pseudo
	if p[pMethod].end == 0 {
		return false
	}
	if string(hb.value(p[pMethod])) == "CONNECT" {
		return p[pAuthority].end != 0 && p[pScheme].end == 0 && p[pPath].end == 0
	}
	return p[pScheme].end != 0 && p[pPath].end != 0 && p[pPath].end > p[pPath].mid
}

func (hb *Block) value(r fieldRef) []byte {
	if r.end == 0 {
		return nil
	}
	return hb.buf[r.mid:r.end:r.end]
}

// parseLength parses a content-length value, -1 when it is not one.
func parseLength(s string) int64 {
	if len(s) == 0 || len(s) > 18 {
		return -1
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v
}

// validName: a lowercase token (§8.2: uppercase is malformed).
func validName(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerTchar(s[i]) {
			return false
		}
	}
	return true
}

func isLowerTchar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= '0' && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validValue: no NUL, CR or LF, no leading or trailing whitespace (§8.2.1).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b == '\r' || b == '\n' {
			return false
		}
	}
	return len(s) == 0 || (!isWS(s[0]) && !isWS(s[len(s)-1]))
}

func isWS(b byte) bool { return b == ' ' || b == '\t' }

// Request is a request's header block as views into the connection's field
// buffer, valid until the next call to Feed.
type Request struct{ hb *Block }

// Method returns :method.
func (r *Request) Method() []byte { return r.hb.value(r.hb.pseudo[pMethod]) }

// Scheme returns :scheme ("https" or "http"; nil for CONNECT).
func (r *Request) Scheme() []byte { return r.hb.value(r.hb.pseudo[pScheme]) }

// Authority returns :authority, nil when absent (then Header("host") may
// carry it, §8.3.1).
func (r *Request) Authority() []byte { return r.hb.value(r.hb.pseudo[pAuthority]) }

// Target returns :path as sent, query included.
func (r *Request) Target() []byte { return r.hb.value(r.hb.pseudo[pPath]) }

// Path returns :path up to '?'.
func (r *Request) Path() []byte {
	t := r.Target()
	for i, b := range t {
		if b == '?' {
			return t[:i:i]
		}
	}
	return t
}

// Query returns the part of :path after the first '?', nil when none.
func (r *Request) Query() []byte {
	t := r.Target()
	for i, b := range t {
		if b == '?' {
			return t[i+1:]
		}
	}
	return nil
}

// NumHeaders returns the number of regular (non-pseudo) fields.
func (r *Request) NumHeaders() int { return len(r.hb.fields) }

// HeaderAt returns regular field i (names are lowercase on HTTP/2).
func (r *Request) HeaderAt(i int) (name, value []byte) {
	f := r.hb.fields[i]
	return r.hb.buf[f.off:f.mid:f.mid], r.hb.buf[f.mid:f.end:f.end]
}

// Header returns the value of the first field named name (ASCII case
// ignored), nil when there is none.
func (r *Request) Header(name string) []byte {
	for i := range r.hb.fields {
		n, v := r.HeaderAt(i)
		if equalFold(n, name) {
			return v
		}
	}
	return nil
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
