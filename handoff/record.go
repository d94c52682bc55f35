package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RecordVersion is the version of the record layout this package writes and reads.
// 2: a conn record's trailers start with a flags byte (lifetime, allowed topic patterns);
// KindIdem records.
const RecordVersion = 2

// Kind is what a record describes.
type Kind uint8

const (
	KindListener Kind = 1 // a listening socket
	KindConn     Kind = 2 // an accepted connection and its state
	KindStored   Kind = 3 // a QoS 1 message kept for a user (no descriptor)
	KindSent     Kind = 4 // QoS 1 messages written to a user's connections, unacknowledged (no descriptor)
	// KindH2 (5) is h2record.go's, KindIdem (6) idem.go's.
)

// HasFD reports whether records of kind k come with a descriptor.
func (k Kind) HasFD() bool { return k == KindListener || k == KindConn }

// Bounds of a record's fields, checked on both sides.
const (
	MaxName           = 1024      // a user or topic name
	MaxTopics         = 4096      // topics of one connection
	MaxTransportState = 64 << 10  // a transport's state (TLS keys and sequence numbers, …)
	MaxPending        = 256 << 20 // output queued and not yet written
	MaxCarry          = 64 << 20  // input read and not yet consumed
	MaxData           = 64 << 20  // a stored message's payload
	MaxSentEntries    = 1 << 16   // sent entries of one user
	// MaxRecord bounds a whole record: the fixed fields, the largest name lists (topics and
	// allowed patterns), the transport state, pending output and carry.
	MaxRecord = 1<<20 + 2*MaxTopics*(MaxName+2) + MaxTransportState + MaxPending + MaxCarry
)

// Transport kinds a connection record may carry.
const (
	TransportPlain uint8 = 0 // plaintext HTTP/1.x: no transport state
	// TransportTLS: HTTP/1.x over TLS; State is the engine's (engine.Loop.Export): the
	// record layer's keys, IVs, traffic secrets and sequence numbers, and Pending is sealed
	// records. Secrets: the handoff socket is private to the two processes.
	TransportTLS uint8 = 1
)

// Listener is a listening socket's record: the tag the server gave it and whether its
// connections are TLS.
type Listener struct {
	Tag uint8
	TLS bool
}

// Conn is one connection's record. Byte slices returned by ParseRecord are views into the
// parsed buffer; Receive hands out copies.
type Conn struct {
	Handle      uint64    // the engine handle the conn key names (loop, slot, generation)
	Random      [2]uint64 // the conn key's random bits
	Listener    uint8     // the listener tag it was accepted on
	Mode        uint8     // what the connection was doing (the server's mode)
	Format      uint8     // stream format
	Minor       uint8     // HTTP/1.minor of the stream request
	Origin      uint8     // allowed-origin index of the stream request
	HasUser     bool      // User is a membership (not only a name)
	Cursor      uint64    // highest message id written to the stream
	LastFrameMs int64     // unix ms of the last frame written (the heartbeat rhythm)
	Peer        [16]byte  // peer address (IPv4-mapped when IPv4)
	User        []byte
	Topics      [][]byte
	Transport   uint8  // Transport* kind
	State       []byte // the transport's state
	Pending     []byte // output queued and not yet written
	Carry       []byte // input read and not yet consumed

	// Trailers, each present only when set, after a flags byte that is there only when one is
	// (a plain conn's record has none):
	//
	// A stream's lifetime (subscribe/lifetime.go): unix ms when --max-conn-age ends it and
	// when its auth expires (0 = none), and whether it was sent the refresh frame.
	AgeEndMs  int64
	ExpiresMs int64
	Refreshed bool
	// The topic patterns auth allowed the stream (subscribe/allowsets.go), which hold its
	// server-side subscribes: at most MaxTopics, each at most MaxName; AnyTopic allows all.
	Allowed  [][]byte
	AnyTopic bool
}

// The trailer flags byte.
const (
	trailerLife     = 1 << iota // AgeEndMs, ExpiresMs, Refreshed follow
	trailerAllowed              // a count and the Allowed patterns follow
	trailerAnyTopic             // AnyTopic
	trailerAll      = trailerLife | trailerAllowed | trailerAnyTopic
)

func (c *Conn) hasLife() bool { return c.AgeEndMs != 0 || c.ExpiresMs != 0 || c.Refreshed }

// trailers is the flags byte of c's trailers; 0: none.
func (c *Conn) trailers() byte {
	var f byte
	if c.hasLife() {
		f |= trailerLife
	}
	if len(c.Allowed) > 0 {
		f |= trailerAllowed
	}
	if c.AnyTopic {
		f |= trailerAnyTopic
	}
	return f
}

// Stored is a QoS 1 message a node keeps for a user until it is acknowledged.
type Stored struct {
	User        []byte
	Seq         uint64
	TimeMs      int64
	Expiry      int64
	QoS         uint8
	JSON        bool
	To          []byte
	Event       []byte
	ContentType []byte
	Data        []byte
}

// SentEntry is one QoS 1 message written to one of a user's connections.
type SentEntry struct {
	ID     uint64
	Expiry int64
	Handle uint64
	Acked  int64
	Missed uint8
}

// Sent is a user's unacknowledged sent messages, in the order written.
type Sent struct {
	User    []byte
	Entries []SentEntry
}

// Record is one record of the stream.
type Record struct {
	Kind     Kind
	Listener Listener
	Conn     Conn
	Stored   Stored
	Sent     Sent
	H2       H2   // h2record.go
	Idem     Idem // idem.go
}

// Errors of the record stream.
var (
	// ErrTooLarge is a field or record over its bound.
	ErrTooLarge = errors.New("handoff: record field over its bound")
	// ErrCorrupt is a record whose lengths do not add up, or with an unknown kind.
	ErrCorrupt = errors.New("handoff: corrupt record")
	// ErrVersion is a record of a layout this build does not read.
	ErrVersion = errors.New("handoff: unknown record version")
)

// recordHead is the length prefix, version and kind.
const recordHead = 4 + 1 + 1

// connFixed is the fixed part of a connection record's body.
const connFixed = 8 + 16 + 6 + 8 + 8 + 16

// AppendRecord appends r's encoding to dst. It fails, appending nothing, when a field is over
// its bound.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, RecordVersion, byte(r.Kind))
	switch r.Kind {
	case KindListener:
		dst = append(dst, r.Listener.Tag, b2u(r.Listener.TLS))
	case KindConn:
		var err error
		if dst, err = appendConn(dst, &r.Conn); err != nil {
			return dst[:start], err
		}
	case KindStored:
		var err error
		if dst, err = appendStored(dst, &r.Stored); err != nil {
			return dst[:start], err
		}
	case KindSent:
		var err error
		if dst, err = appendSent(dst, &r.Sent); err != nil {
			return dst[:start], err
		}
	case KindH2:
		var err error
		if dst, err = appendH2(dst, &r.H2); err != nil {
			return dst[:start], err
		}
	case KindIdem:
		var err error
		if dst, err = appendIdem(dst, &r.Idem); err != nil {
			return dst[:start], err
		}
	default:
		return dst[:start], fmt.Errorf("%w: kind %d", ErrCorrupt, r.Kind)
	}
	n := len(dst) - start - 4
	if n > MaxRecord {
		return dst[:start], ErrTooLarge
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

func appendConn(dst []byte, c *Conn) ([]byte, error) {
	if len(c.User) > MaxName || len(c.Topics) > MaxTopics || len(c.State) > MaxTransportState ||
		len(c.Pending) > MaxPending || len(c.Carry) > MaxCarry || len(c.Allowed) > MaxTopics {
		return dst, ErrTooLarge
	}
	dst = binary.LittleEndian.AppendUint64(dst, c.Handle)
	dst = binary.LittleEndian.AppendUint64(dst, c.Random[0])
	dst = binary.LittleEndian.AppendUint64(dst, c.Random[1])
	dst = append(dst, c.Listener, c.Mode, c.Format, c.Minor, c.Origin, b2u(c.HasUser))
	dst = binary.LittleEndian.AppendUint64(dst, c.Cursor)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(c.LastFrameMs))
	dst = append(dst, c.Peer[:]...)
	dst = appendBytes16(dst, c.User)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(c.Topics)))
	for _, t := range c.Topics {
		if len(t) > MaxName {
			return dst, ErrTooLarge
		}
		dst = appendBytes16(dst, t)
	}
	dst = append(dst, c.Transport)
	dst = appendBytes32(dst, c.State)
	dst = appendBytes32(dst, c.Pending)
	dst = appendBytes32(dst, c.Carry)
	f := c.trailers()
	if f == 0 {
		return dst, nil
	}
	dst = append(dst, f)
	if f&trailerLife != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c.AgeEndMs))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c.ExpiresMs))
		dst = append(dst, b2u(c.Refreshed))
	}
	if f&trailerAllowed != 0 {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(c.Allowed)))
		for _, p := range c.Allowed {
			if len(p) > MaxName {
				return dst, ErrTooLarge
			}
			dst = appendBytes16(dst, p)
		}
	}
	return dst, nil
}

func appendBytes16(dst, b []byte) []byte {
	return append(binary.LittleEndian.AppendUint16(dst, uint16(len(b))), b...)
}

func appendBytes32(dst, b []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(dst, uint32(len(b))), b...)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// ParseRecord reads the record at the start of b into r. It returns the bytes the record
// took, or 0 and a nil error when b holds only part of it (the caller reads more and calls
// again with the same start). A length over MaxRecord is an error as soon as the prefix is
// in, so a caller never buffers more than MaxRecord for one record. r's byte slices, and
// r.Conn.Topics' elements, are views into b, valid while b is; r.Conn.Topics reuses its
// capacity.
func ParseRecord(b []byte, r *Record) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > MaxRecord {
		return 0, ErrTooLarge
	}
	if n < 2 {
		return 0, ErrCorrupt
	}
	if len(b) < 4+n {
		return 0, nil
	}
	body := b[recordHead : 4+n]
	if b[4] != RecordVersion {
		return 0, fmt.Errorf("%w %d (this build reads %d)", ErrVersion, b[4], RecordVersion)
	}
	r.Kind = Kind(b[5])
	switch r.Kind {
	case KindListener:
		if len(body) != 2 || body[1] > 1 {
			return 0, ErrCorrupt
		}
		r.Listener = Listener{Tag: body[0], TLS: body[1] == 1}
	case KindConn:
		if err := parseConn(body, &r.Conn); err != nil {
			return 0, err
		}
	case KindStored:
		if err := parseStored(body, &r.Stored); err != nil {
			return 0, err
		}
	case KindSent:
		if err := parseSent(body, &r.Sent); err != nil {
			return 0, err
		}
	case KindH2:
		if err := parseH2(body, &r.H2); err != nil {
			return 0, err
		}
	case KindIdem:
		if err := parseIdem(body, &r.Idem); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("%w: kind %d", ErrCorrupt, b[5])
	}
	return 4 + n, nil
}

func parseConn(b []byte, c *Conn) error {
	if len(b) < connFixed {
		return ErrCorrupt
	}
	le := binary.LittleEndian
	c.Handle = le.Uint64(b)
	c.Random = [2]uint64{le.Uint64(b[8:]), le.Uint64(b[16:])}
	c.Listener, c.Mode, c.Format, c.Minor, c.Origin = b[24], b[25], b[26], b[27], b[28]
	if b[29] > 1 {
		return ErrCorrupt
	}
	c.HasUser = b[29] == 1
	c.Cursor = le.Uint64(b[30:])
	c.LastFrameMs = int64(le.Uint64(b[38:]))
	copy(c.Peer[:], b[46:62])
	d := decoder{b: b[connFixed:]}
	c.User = d.bytes16(MaxName)
	nt := d.uint16()
	if nt > MaxTopics {
		return ErrTooLarge
	}
	c.Topics = c.Topics[:0]
	for range nt {
		if d.err != nil {
			break
		}
		c.Topics = append(c.Topics, d.bytes16(MaxName))
	}
	c.Transport = d.byte()
	c.State = d.bytes32(MaxTransportState)
	c.Pending = d.bytes32(MaxPending)
	c.Carry = d.bytes32(MaxCarry)
	c.AgeEndMs, c.ExpiresMs, c.Refreshed = 0, 0, false
	c.Allowed, c.AnyTopic = c.Allowed[:0], false
	if d.err == nil && len(d.b) > 0 {
		parseTrailers(&d, c)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrCorrupt // trailing bytes: the lengths do not add up
	}
	return d.err
}

// parseTrailers reads the trailers after a conn record's flags byte. An empty trailer is never
// written: a flag whose trailer holds nothing is corrupt, so a record re-encodes the same.
func parseTrailers(d *decoder, c *Conn) {
	f := d.byte()
	if f == 0 || f&^trailerAll != 0 {
		d.err = ErrCorrupt
		return
	}
	if f&trailerLife != 0 {
		if v := d.take(8 + 8 + 1); v != nil {
			c.AgeEndMs, c.ExpiresMs = int64(binary.LittleEndian.Uint64(v)), int64(binary.LittleEndian.Uint64(v[8:]))
			c.Refreshed = v[16] == 1
			if v[16] > 1 || !c.hasLife() {
				d.err = ErrCorrupt
			}
		}
	}
	if f&trailerAllowed != 0 {
		n := d.uint16()
		if n > MaxTopics && d.err == nil {
			d.err = ErrTooLarge
		} else if n == 0 && d.err == nil {
			d.err = ErrCorrupt
		}
		for range n {
			if d.err != nil {
				break
			}
			c.Allowed = append(c.Allowed, d.bytes16(MaxName))
		}
	}
	c.AnyTopic = f&trailerAnyTopic != 0
}

// decoder reads fields off b; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = ErrCorrupt
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) uint16() int {
	if v := d.take(2); v != nil {
		return int(binary.LittleEndian.Uint16(v))
	}
	return 0
}

func (d *decoder) bytes16(limit int) []byte {
	n := d.uint16()
	if n > limit && d.err == nil {
		d.err = ErrTooLarge
	}
	return d.take(n)
}

func (d *decoder) bytes32(limit int) []byte {
	v := d.take(4)
	if v == nil {
		return nil
	}
	n := binary.LittleEndian.Uint32(v)
	if n > uint32(limit) {
		d.err = ErrTooLarge
		return nil
	}
	return d.take(int(n))
}
