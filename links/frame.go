package links

import (
	"encoding/binary"
	"errors"
	"io"
)

// Link wire format. Every frame is
//
//	length uint32 (big endian; bytes after this field) | type uint8 | body
//
// and the bodies are
//
//	hello  (type 3): version uint8 | node id                       first frame of a link, dialler → server
//	push   (type 1): corr uint64 | trace uint64 | qos uint8 | flags uint8 (bit 0: JSON;
//	                 bits 1-3: Kind, the address kind plus one, 0 from a node that sends none)
//	                 | uvarint+ID | uvarint+To | uvarint+Event | uvarint+ContentType | data (rest)
//	result (type 2): corr uint64 | delivered uvarint | error text (rest; empty = none)
//	query, answer (types 4, 5): presence queries (query.go) and changing queries (subquery.go)
//
// corr is the request's correlation id: consecutive per link, answered in the same order.
const (
	frameHeader  = 5
	typePush     = 1
	typeResult   = 2
	typeHello    = 3
	protoVersion = 1
	flagJSON     = 1
	kindShift    = 1 // flags bits 1-3: Push.Kind
	kindMask     = 7
)

// Push is one message forwarded to the node that holds its target.
type Push struct {
	Trace       uint64 // trace id carried through every hop
	ID          string // message id
	To          string // address: "conn:<key>", "user:<id>", "topic:<name>" or "all"
	Event       string
	ContentType string
	JSON        bool  // Data is valid JSON sent as application/json
	QoS         uint8 // 0 or 1
	// Kind is the kind of To's address plus one (push.Kind + 1), so the taker does not
	// parse it again; 0 means not given (a node from before it travelled): parse To.
	Kind uint8
	Data []byte
}

// Result is the owning node's answer to one Push.
type Result struct {
	Delivered int    // local writes made on the owning node
	Err       string // non-empty when the push failed there
}

var (
	errFrameTooBig = errors.New("links: link frame over the size limit")
	errBadFrame    = errors.New("links: malformed link frame")
)

// pushSize is an upper bound of the encoded size of p.
func pushSize(p *Push) int {
	return frameHeader + 18 + 4*binary.MaxVarintLen32 + len(p.ID) + len(p.To) + len(p.Event) + len(p.ContentType) + len(p.Data)
}

func beginFrame(dst []byte, typ byte) ([]byte, int) {
	at := len(dst)
	return append(dst, 0, 0, 0, 0, typ), at
}

func endFrame(dst []byte, at int) []byte {
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendHello(dst []byte, nodeID string) []byte {
	dst, at := beginFrame(dst, typeHello)
	dst = append(dst, protoVersion)
	return endFrame(append(dst, nodeID...), at)
}

func appendPush(dst []byte, corr uint64, p *Push) []byte {
	dst, at := beginFrame(dst, typePush)
	dst = binary.BigEndian.AppendUint64(dst, corr)
	dst = binary.BigEndian.AppendUint64(dst, p.Trace)
	var flags byte
	if p.JSON {
		flags |= flagJSON
	}
	flags |= (p.Kind & kindMask) << kindShift
	dst = append(dst, p.QoS, flags)
	dst = appendStr(dst, p.ID)
	dst = appendStr(dst, p.To)
	dst = appendStr(dst, p.Event)
	dst = appendStr(dst, p.ContentType)
	return endFrame(append(dst, p.Data...), at)
}

func appendResult(dst []byte, corr uint64, r Result) []byte {
	dst, at := beginFrame(dst, typeResult)
	dst = binary.BigEndian.AppendUint64(dst, corr)
	dst = binary.AppendUvarint(dst, uint64(max(r.Delivered, 0)))
	return endFrame(append(dst, r.Err...), at)
}

// decodePush fills p from a push body. p.Data aliases body. To, Event and ContentType keep
// their previous string when the bytes are equal, so a stream of pushes to one address does not
// allocate them again (p is reused per link).
func decodePush(body []byte, p *Push) (corr uint64, err error) {
	if len(body) < 18 {
		return 0, errBadFrame
	}
	corr = binary.BigEndian.Uint64(body)
	p.Trace = binary.BigEndian.Uint64(body[8:])
	p.QoS, p.JSON = body[16], body[17]&flagJSON != 0
	p.Kind = body[17] >> kindShift & kindMask
	b := body[18:]
	var f []byte
	if f, b, err = takeStr(b); err != nil {
		return 0, err
	}
	p.ID = string(f)
	if f, b, err = takeStr(b); err != nil {
		return 0, err
	}
	if string(f) != p.To {
		p.To = string(f)
	}
	if f, b, err = takeStr(b); err != nil {
		return 0, err
	}
	if string(f) != p.Event {
		p.Event = string(f)
	}
	if f, b, err = takeStr(b); err != nil {
		return 0, err
	}
	if string(f) != p.ContentType {
		p.ContentType = string(f)
	}
	p.Data = b
	return corr, nil
}

func takeStr(b []byte) (s, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errBadFrame
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func decodeResult(body []byte) (corr uint64, r Result, err error) {
	if len(body) < 9 {
		return 0, r, errBadFrame
	}
	corr = binary.BigEndian.Uint64(body)
	n, k := binary.Uvarint(body[8:])
	if k <= 0 || n > 1<<31 {
		return 0, r, errBadFrame
	}
	r.Delivered = int(n)
	if rest := body[8+k:]; len(rest) > 0 {
		r.Err = string(rest)
	}
	return corr, r, nil
}

// frameReader splits a byte stream into frames. It reads into one buffer that grows up to the
// largest frame seen (bounded by max) and hands out bodies as views into it.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is read and not yet consumed
	max        int // largest accepted frame, header included
}

func newFrameReader(r io.Reader, size, max int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, size), max: max}
}

// next returns the next frame if it is wholly buffered (ok false: call fill). body is valid
// until the next fill.
func (f *frameReader) next() (typ byte, body []byte, ok bool, err error) {
	avail := f.buf[f.start:f.end]
	if len(avail) < frameHeader {
		return 0, nil, false, nil
	}
	n := int(binary.BigEndian.Uint32(avail))
	if n < 1 || n+4 > f.max {
		return 0, nil, false, errFrameTooBig
	}
	if len(avail) < n+4 {
		return 0, nil, false, nil
	}
	f.start += n + 4
	return avail[4], avail[5 : n+4], true, nil
}

// fill reads once more from the stream, first moving the unconsumed tail to the front and
// growing the buffer when the pending frame does not fit.
func (f *frameReader) fill() error {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	if f.end >= frameHeader {
		if need := int(binary.BigEndian.Uint32(f.buf)) + 4; need > len(f.buf) && need <= f.max {
			nb := make([]byte, need)
			copy(nb, f.buf[:f.end])
			f.buf = nb
		}
	}
	if f.end == len(f.buf) {
		return errFrameTooBig
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
