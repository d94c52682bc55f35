package tlslayer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"
	"io"
	"math"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// The record layer once the handshake is done (RFC 8446 §5, RFC 5246 §6.2): sans-IO and
// owned by the connection's loop. Open decrypts what the socket gave, in place; Seal appends
// records to an outbound buffer. Neither blocks nor starts a goroutine.

const (
	recordHeaderLen = 5
	maxPlaintext    = 1 << 14            // RFC 8446 §5.1, RFC 5246 §6.2.1
	maxCiphertext13 = maxPlaintext + 256 // RFC 8446 §5.2
	maxCiphertext12 = maxPlaintext + 2048
	// MaxRecord is the longest record Open accepts (header included): what a caller may have
	// to carry between reads.
	MaxRecord = recordHeaderLen + maxCiphertext12

	recordCCS       = 20
	recordAlert     = 21
	recordHandshake = 22
	recordAppData   = 23

	msgClientHello  = 1
	msgNewTicket    = 4
	msgKeyUpdate    = 24
	tagLen          = 16
	explicitNonce12 = 8 // TLS 1.2 AES-GCM: the record carries the nonce's last 8 bytes

	// keyUpdateAfter is the write sequence number at which TLS 1.3 rekeys before sealing more:
	// AES-GCM may protect 2^24.5 full-size records per key (RFC 8446 §5.5).
	keyUpdateAfter = 1 << 24
)

// direction is one direction's keys and sequence number. Its AEAD, when one is built, is in
// Conn.aead: a kept ChaCha20-Poly1305 one, or, where stackGCM does not run, an AES-GCM one
// built on demand and dropped by Conn.Idle (~0.8 KB that an idle connection need not hold).
type direction struct {
	seq    uint64
	secret [48]byte // TLS 1.3 traffic secret (the next one derives from it)
	key    [32]byte
	iv     [12]byte // TLS 1.2 AES-GCM uses the first 4 bytes (implicit salt)
	nonce  [12]byte // scratch: per-record nonce
	aad    [13]byte // scratch: TLS 1.2 additional data
}

// Conn is one TLS connection's state: the handshake while it runs, then the record layer.
// Only its owner (the connection's loop) may call its methods. Its keys and sequence
// numbers are a Keys the owner may place anywhere (Bind), even outside the Go heap; the
// Conn itself is 48 bytes of pointers, to the Keys, a running handshake and built AEADs.
type Conn struct {
	*Keys
	hs   *handshake
	aead [2]cipher.AEAD // dirIn, dirOut; nil when not built
}

// Keys is the pointer-free part of a Conn (~270 bytes): what an idle connection holds.
type Keys struct {
	in    direction // client to server
	out   direction // server to client
	suite uint8     // index into suites
	vers  uint16
	alpn  uint8 // index+1 into the Server's NextProtos; 0 = none
	flags uint8
}

const (
	dirIn  = 0
	dirOut = 1
)

// Bind makes c keep its keys in k (zeroed first): for an owner that stores Keys outside the
// Go heap (they hold no pointers). A Conn not bound gets its Keys from the heap on first use.
func (c *Conn) Bind(k *Keys) {
	*k = Keys{}
	c.Keys = k
}

// keys returns c's Keys, allocating them for an unbound Conn.
func (c *Conn) keys() *Keys {
	if c.Keys == nil {
		c.Keys = new(Keys)
	}
	return c.Keys
}

// dir returns direction i's keys.
func (c *Conn) dir(i int) *direction {
	if i == dirIn {
		return &c.in
	}
	return &c.out
}

const (
	flagEstablished  uint8 = 1 << iota // the handshake is done: Open and Seal work
	flagKeyUpdateDue                   // the peer asked for our KeyUpdate: sent before the next record
	flagFailed                         // Open failed or a close_notify came: no more Open
	flagUsed                           // Open or Seal ran since the last Idle
)

// Established reports whether the handshake is done.
func (c *Conn) Established() bool { return c.Keys != nil && c.flags&flagEstablished != 0 }

// Version returns the negotiated TLS version (tls.VersionTLS12 or tls.VersionTLS13) once
// established.
func (c *Conn) Version() uint16 { return c.vers }

// CipherSuite returns the negotiated suite's id once established.
func (c *Conn) CipherSuite() uint16 { return suites[c.suite].id }

// WantWrite reports whether Seal has a record to send even with no plaintext (a KeyUpdate the
// peer asked for).
func (c *Conn) WantWrite() bool { return c.Keys != nil && c.flags&flagKeyUpdateDue != 0 }

// Warm reports whether the connection needs Idle calls: it holds built AES-GCM AEADs, or
// may build one (sealed or opened a record since the last Idle) where stackGCM does not run.
func (c *Conn) Warm() bool {
	if c.Keys == nil || suites[c.suite].chacha {
		return false
	}
	return c.aead[dirIn] != nil || c.aead[dirOut] != nil || (!stackGCMOK && c.flags&flagUsed != 0)
}

// Idle drops the built AES-GCM AEADs unless Open or Seal ran since the last Idle, and reports
// whether the connection is now cold. A loop calls it on a timer for its warm connections, so
// that a busy connection keeps its AEADs and an idle one holds only keys.
//
// Where stackGCM runs (amd64 with AES-NI), AES-GCM records are always sealed and opened
// with a stackGCM keyed on the stack for each Seal or Open call: no AEAD is built, kept or
// left as garbage, at 0.06–0.2 µs per call more than a kept AEAD (BenchmarkSeal: stack,
// kept, built), where building the standard library's costs 1–4 µs and 1,280 bytes of
// garbage, and keeping it 768 bytes per connection, which a push subscriber sealed to a few
// times a second at most does not repay. A ChaCha20-Poly1305 AEAD is 32 bytes with no
// per-key tables: it is built once and kept.
func (c *Conn) Idle() bool {
	if c.Keys != nil && c.flags&flagUsed != 0 {
		c.flags &^= flagUsed
		return false
	}
	if c.Keys == nil || !suites[c.suite].chacha {
		c.aead = [2]cipher.AEAD{}
	}
	return true
}

// stackFor returns g, to seal or open direction i's records with, for an AES-GCM connection
// where stackGCM runs; otherwise nil: the records go through aeadFor, which builds an AEAD
// to keep.
func (c *Conn) stackFor(g *stackGCM) *stackGCM {
	if !stackGCMOK || suites[c.suite].chacha {
		return nil
	}
	return g
}

// keyed returns g keyed with direction d's current key (g.nr is zeroed when the key changes).
func (c *Conn) keyed(g *stackGCM, d *direction) *stackGCM {
	if g.nr == 0 {
		g.setKey(d.key[:suites[c.suite].keyLen])
	}
	return g
}

// aeadFor returns direction i's AEAD, building it when dropped.
func (c *Conn) aeadFor(i int) cipher.AEAD {
	if a := c.aead[i]; a != nil {
		return a
	}
	s := &suites[c.suite]
	d := c.dir(i)
	if s.chacha {
		a, err := chacha20poly1305.New(d.key[:32])
		if err != nil {
			panic("tlslayer: " + err.Error()) // the key length is fixed
		}
		c.aead[i] = a
		return a
	}
	b, err := aes.NewCipher(d.key[:s.keyLen])
	if err != nil {
		panic("tlslayer: " + err.Error())
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic("tlslayer: " + err.Error())
	}
	c.aead[i] = a
	return a
}

// nonceFor fills d.nonce for sequence number seq: iv XOR seq (RFC 8446 §5.3, RFC 7905), or
// salt || seq for TLS 1.2 AES-GCM (RFC 5288 §3, the explicit part being the sequence number).
func (d *direction) nonceFor(s *suite, vers uint16, seq uint64) []byte {
	n := &d.nonce
	if vers == tls.VersionTLS12 && !s.chacha {
		copy(n[:4], d.iv[:4])
		binary.BigEndian.PutUint64(n[4:], seq)
		return n[:]
	}
	*n = d.iv
	for i := 0; i < 8; i++ {
		n[4+i] ^= byte(seq >> (56 - 8*i))
	}
	return n[:]
}

// aad12 fills d.aad: seq || type || version || plaintext length (RFC 5246 §6.2.3.3).
func (d *direction) aad12(seq uint64, typ uint8, n int) []byte {
	a := &d.aad
	binary.BigEndian.PutUint64(a[:8], seq)
	a[8] = typ
	a[9], a[10] = 3, 3
	a[11], a[12] = byte(n>>8), byte(n)
	return a[:]
}

// Open decrypts the complete records at the front of buf, in place: on return buf[:plain] is
// their application data, in order, and buf[:used] held those records; buf[used:] is an
// incomplete record (fewer than MaxRecord bytes) for the caller to carry and present again
// with more bytes behind it. KeyUpdates are handled (see WantWrite). A close_notify returns
// io.EOF with the data before it; any other failure returns an error (a LocalError names the
// alert to send) and the data of the records before the failing one, never data of it.
func (c *Conn) Open(buf []byte) (plain, used int, err error) {
	if !c.Established() || c.flags&flagFailed != 0 {
		return 0, 0, ErrClosed
	}
	var gs stackGCM
	g := c.stackFor(&gs)
	c.flags |= flagUsed
	for len(buf)-used >= recordHeaderLen {
		rec := buf[used:]
		n := int(rec[3])<<8 | int(rec[4])
		if err := c.checkHeader(rec, n); err != nil {
			c.flags |= flagFailed
			return plain, used, err
		}
		if len(rec) < recordHeaderLen+n {
			break
		}
		typ, data, err := c.openRecord(dirIn, rec[:recordHeaderLen+n], g)
		if err != nil {
			c.flags |= flagFailed
			return plain, used, err
		}
		used += recordHeaderLen + n
		switch typ {
		case recordAppData:
			plain += copy(buf[plain:], data)
		case recordAlert:
			err = c.alert(data)
		default: // recordHandshake (checkHeader let no other type through)
			err = c.postHandshake(data)
			if g != nil {
				g.nr = 0 // a KeyUpdate changed the read key
			}
		}
		if err != nil {
			c.flags |= flagFailed
			return plain, used, err
		}
	}
	return plain, used, nil
}

// checkHeader checks a record header before its body is read: version 0x0303 (the only one
// on the wire after a TLS 1.2 or 1.3 handshake), a type the layer may see (TLS 1.3:
// application_data only; TLS 1.2: alert, handshake, application_data; a ChangeCipherSpec
// after the handshake is unexpected), and a length within the version's limit.
func (c *Conn) checkHeader(rec []byte, n int) error {
	if rec[1] != 3 || rec[2] != 3 {
		return localErr(alertProtocolVersion, "record with a bad version")
	}
	limit := maxCiphertext12
	if c.vers == tls.VersionTLS13 {
		limit = maxCiphertext13
		if rec[0] != recordAppData {
			return localErr(alertUnexpectedMessage, "TLS 1.3 record not of type application_data")
		}
	} else if rec[0] < recordAlert || rec[0] > recordAppData {
		return localErr(alertUnexpectedMessage, "unexpected record type after the handshake")
	}
	if n > limit {
		return localErr(alertRecordOverflow, "record over the length limit")
	}
	return nil
}

// openRecord authenticates and decrypts one whole record in place with direction i's keys
// (through g when not nil, else the direction's AEAD) and returns its content type and
// plaintext (a view into rec).
func (c *Conn) openRecord(i int, rec []byte, g *stackGCM) (typ uint8, data []byte, err error) {
	s := &suites[c.suite]
	d := c.dir(i)
	if d.seq == math.MaxUint64 {
		return 0, nil, localErr(alertUnexpectedMessage, "read sequence number exhausted")
	}
	payload := rec[recordHeaderLen:]
	if c.vers == tls.VersionTLS13 {
		if len(payload) < tagLen+1 {
			return 0, nil, localErr(alertDecodeError, "record shorter than its tag")
		}
		data, err = c.open(i, g, payload[:0], d.nonceFor(s, c.vers, d.seq), payload, rec[:recordHeaderLen])
		if err != nil {
			return 0, nil, localErr(alertBadRecordMAC, "record failed authentication")
		}
		d.seq++
		// TLSInnerPlaintext: content, content type, zero padding (RFC 8446 §5.4).
		i := len(data) - 1
		for i >= 0 && data[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, localErr(alertUnexpectedMessage, "record with no content type")
		}
		if i > maxPlaintext {
			return 0, nil, localErr(alertRecordOverflow, "plaintext over 2^14 bytes")
		}
		return data[i], data[:i], nil
	}
	typ = rec[0]
	nonce := d.nonceFor(s, c.vers, d.seq)
	if !s.chacha {
		if len(payload) < explicitNonce12+tagLen {
			return 0, nil, localErr(alertDecodeError, "record shorter than its nonce and tag")
		}
		copy(nonce[4:], payload[:explicitNonce12])
		payload = payload[explicitNonce12:]
	} else if len(payload) < tagLen {
		return 0, nil, localErr(alertDecodeError, "record shorter than its tag")
	}
	aad := d.aad12(d.seq, typ, len(payload)-tagLen)
	data, err = c.open(i, g, payload[:0], nonce, payload, aad)
	if err != nil {
		return 0, nil, localErr(alertBadRecordMAC, "record failed authentication")
	}
	d.seq++
	if len(data) > maxPlaintext {
		return 0, nil, localErr(alertRecordOverflow, "plaintext over 2^14 bytes")
	}
	return typ, data, nil
}

// open is cipher.AEAD.Open with direction i's key: through g when not nil, else the
// direction's AEAD.
func (c *Conn) open(i int, g *stackGCM, dst, nonce, ct, aad []byte) ([]byte, error) {
	if g != nil {
		return c.keyed(g, c.dir(i)).open(dst, nonce, ct, aad)
	}
	return c.aeadFor(i).Open(dst, nonce, ct, aad)
}

// alert handles an alert record: close_notify ends the stream (io.EOF), anything else fails
// it. TLS 1.2 warning alerts other than close_notify are treated as fatal too: a server has no
// use for them.
func (c *Conn) alert(data []byte) error {
	if len(data) != 2 {
		return localErr(alertDecodeError, "malformed alert")
	}
	if data[1] == alertCloseNotify {
		return io.EOF
	}
	return AlertError(data[1])
}

// postHandshake handles a handshake message after the handshake: a TLS 1.3 KeyUpdate is
// honoured; a TLS 1.2 ClientHello (renegotiation) is refused with no_renegotiation; anything
// else is unexpected. A message must fill its record exactly (a KeyUpdate must end its record,
// RFC 8446 §5.1, and no other message is accepted).
func (c *Conn) postHandshake(data []byte) error {
	if len(data) < 4 || int(data[1])<<16|int(data[2])<<8|int(data[3]) != len(data)-4 {
		return localErr(alertUnexpectedMessage, "fragmented or malformed post-handshake message")
	}
	if c.vers == tls.VersionTLS12 {
		if data[0] == msgClientHello {
			return localErr(alertNoRenegotiation, "renegotiation refused")
		}
		return localErr(alertUnexpectedMessage, "handshake message after the handshake")
	}
	switch data[0] {
	case msgKeyUpdate:
		if len(data) != 5 || data[4] > 1 {
			return localErr(alertDecodeError, "malformed KeyUpdate")
		}
		c.in.nextSecret13(&suites[c.suite])
		c.aead[dirIn] = nil
		if data[4] == 1 {
			c.flags |= flagKeyUpdateDue
		}
		return nil
	case msgNewTicket:
		return localErr(alertUnexpectedMessage, "NewSessionTicket from a client")
	}
	return localErr(alertUnexpectedMessage, "handshake message after the handshake")
}

// Seal appends p to out as application_data records of at most 2^14 bytes each, preceded by a
// KeyUpdate when one is due (asked for by the peer, or the write sequence number reaching
// the rekey point). It allocates nothing when out has room and the AEAD is built. A nil or
// empty p sends only what is due.
func (c *Conn) Seal(out, p []byte) ([]byte, error) {
	if !c.Established() {
		return out, ErrClosed
	}
	var gs stackGCM
	g := c.stackFor(&gs)
	c.flags |= flagUsed
	if c.flags&flagKeyUpdateDue != 0 {
		out = c.appendKeyUpdate(out, false, g)
	}
	for len(p) > 0 {
		if c.out.seq >= keyUpdateAfter && c.vers == tls.VersionTLS13 {
			out = c.appendKeyUpdate(out, false, g)
		}
		if c.out.seq == math.MaxUint64 {
			return out, ErrSeqLimit
		}
		k := min(len(p), maxPlaintext)
		out = c.sealRecord(out, recordAppData, p[:k], g)
		p = p[k:]
	}
	return out, nil
}

// keyUpdateMsgs are KeyUpdate(update_not_requested) and KeyUpdate(update_requested).
var keyUpdateMsgs = [2][5]byte{{msgKeyUpdate, 0, 0, 1, 0}, {msgKeyUpdate, 0, 0, 1, 1}}

// appendKeyUpdate appends a KeyUpdate, asking the peer to update its keys too when request
// is set (tests use it to make a crypto/tls peer send one), and moves to the next write key
// (sealing through g when not nil, which is then keyed again on its next use).
func (c *Conn) appendKeyUpdate(out []byte, request bool, g *stackGCM) []byte {
	msg := &keyUpdateMsgs[0]
	if request {
		msg = &keyUpdateMsgs[1]
	}
	out = c.sealRecord(out, recordHandshake, msg[:], g)
	c.out.nextSecret13(&suites[c.suite])
	c.aead[dirOut] = nil
	if g != nil {
		g.nr = 0
	}
	c.flags &^= flagKeyUpdateDue
	return out
}

// AppendAlert appends an alert record (close_notify and no_renegotiation at warning level,
// others fatal) to out. After it the connection is to be closed; Seal refuses further data
// after a fatal alert.
func (c *Conn) AppendAlert(out []byte, alert uint8) []byte {
	if !c.Established() || c.out.seq == math.MaxUint64 {
		return out
	}
	level := byte(2)
	if alert == alertCloseNotify || alert == alertNoRenegotiation {
		level = 1
	}
	msg := [2]byte{level, alert}
	var gs stackGCM
	out = c.sealRecord(out, recordAlert, msg[:], c.stackFor(&gs))
	if level == 2 {
		c.flags &^= flagEstablished
	}
	return out
}

// AppendCloseNotify appends a close_notify alert to out.
func (c *Conn) AppendCloseNotify(out []byte) []byte { return c.AppendAlert(out, alertCloseNotify) }

// sealRecord appends one record of type typ carrying p, sealed through g when not nil, else
// with the direction's AEAD.
func (c *Conn) sealRecord(out []byte, typ uint8, p []byte, g *stackGCM) []byte {
	s := &suites[c.suite]
	d := &c.out
	extra := tagLen
	switch {
	case c.vers == tls.VersionTLS13:
		extra++ // inner content type
	case !s.chacha:
		extra += explicitNonce12
	}
	out = slices.Grow(out, recordHeaderLen+len(p)+extra)
	start := len(out)
	n := len(p) + extra
	outerType := typ
	if c.vers == tls.VersionTLS13 {
		outerType = recordAppData
	}
	out = append(out, outerType, 3, 3, byte(n>>8), byte(n))
	nonce := d.nonceFor(s, c.vers, d.seq)
	var aad []byte
	if c.vers == tls.VersionTLS13 {
		aad = out[start : start+recordHeaderLen]
	} else {
		aad = d.aad12(d.seq, typ, len(p))
		if !s.chacha {
			out = append(out, nonce[4:]...)
		}
	}
	ps := len(out)
	out = append(out, p...)
	if c.vers == tls.VersionTLS13 {
		out = append(out, typ)
	}
	var sealed []byte // in place: out has room for the tag
	if g != nil {
		sealed = c.keyed(g, d).seal(out[ps:ps], nonce, out[ps:], aad)
	} else {
		sealed = c.aeadFor(dirOut).Seal(out[ps:ps], nonce, out[ps:], aad)
	}
	d.seq++
	return out[:ps+len(sealed)]
}
