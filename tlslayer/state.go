package tlslayer

import (
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Moving an established connection's record layer to another process (a zero-downtime
// upgrade): AppendState writes what Open and Seal need — version, suite, ALPN protocol, and
// per direction the sequence number, key, IV and (TLS 1.3) the current traffic secret, so a
// KeyUpdate after the move derives the next one — and SetState rebuilds a Conn from it. The
// bytes are secrets: they may cross only a private channel (the handoff's socketpair).
// Buffered records are the caller's: an incomplete record it carries, and records it sealed
// and has not written, stay valid, since the sequence numbers continue.

// stateVersion is the layout of AppendState's bytes.
const stateVersion = 1

// ErrState is SetState's answer to bytes that do not describe an established connection
// of this Server.
var ErrState = errors.New("tlslayer: unusable connection state")

const (
	stateFlagKeyUpdateDue = 1 << iota // the peer asked for a KeyUpdate not yet sent
)

// AppendState appends c's record-layer state to dst; srv is the Server c handshook with (it
// names the ALPN protocol). c must be established and not failed.
func (c *Conn) AppendState(dst []byte, srv *Server) ([]byte, error) {
	if !c.Established() || c.flags&flagFailed != 0 || c.hs != nil {
		return dst, ErrState
	}
	s := &suites[c.suite]
	dst = append(dst, stateVersion)
	dst = binary.BigEndian.AppendUint16(dst, c.vers)
	dst = binary.BigEndian.AppendUint16(dst, s.id)
	var flags byte
	if c.flags&flagKeyUpdateDue != 0 {
		flags |= stateFlagKeyUpdateDue
	}
	dst = append(dst, flags)
	alpn := srv.NegotiatedProtocol(c)
	dst = append(dst, byte(len(alpn)))
	dst = append(dst, alpn...)
	for _, d := range [2]*direction{&c.in, &c.out} {
		dst = binary.BigEndian.AppendUint64(dst, d.seq)
		dst = append(dst, d.key[:s.keyLen]...)
		dst = append(dst, d.iv[:s.ivLen()]...)
		if c.vers == tls.VersionTLS13 {
			dst = append(dst, d.secret[:s.hashLen()]...)
		}
	}
	return dst, nil
}

// SetState makes c the established connection state b describes (AppendState's bytes), for
// srv, whose NextProtos must include the ALPN protocol it names. c must be new or closed: a
// Conn with a running handshake is refused. Any malformed or inconsistent b is ErrState, and
// c is left as it was.
func (c *Conn) SetState(b []byte, srv *Server) error {
	if c.hs != nil {
		return fmt.Errorf("%w: the connection is in a handshake", ErrState)
	}
	if len(b) < 7 || b[0] != stateVersion {
		return fmt.Errorf("%w: bad length or layout version", ErrState)
	}
	vers := binary.BigEndian.Uint16(b[1:])
	si := suiteIndex(binary.BigEndian.Uint16(b[3:]))
	flags := b[5]
	if si < 0 || suites[si].version != vers || flags&^stateFlagKeyUpdateDue != 0 ||
		(vers == tls.VersionTLS12 && flags != 0) {
		return fmt.Errorf("%w: unknown suite, version or flags", ErrState)
	}
	s := &suites[si]
	n := int(b[6])
	b = b[7:]
	if len(b) < n {
		return fmt.Errorf("%w: truncated ALPN protocol", ErrState)
	}
	alpn := uint8(0)
	if n > 0 {
		for i, p := range srv.protos {
			if p == string(b[:n]) {
				alpn = uint8(i + 1)
			}
		}
		if alpn == 0 {
			return fmt.Errorf("%w: ALPN protocol %q not offered here", ErrState, b[:n])
		}
	}
	b = b[n:]
	secretLen := 0
	if vers == tls.VersionTLS13 {
		secretLen = s.hashLen()
	}
	if len(b) != 2*(8+s.keyLen+s.ivLen()+secretLen) {
		return fmt.Errorf("%w: keys of the wrong length", ErrState)
	}
	var k Keys
	for _, d := range [2]*direction{&k.in, &k.out} {
		d.seq = binary.BigEndian.Uint64(b)
		b = b[8:]
		b = b[copy(d.key[:s.keyLen], b):]
		b = b[copy(d.iv[:s.ivLen()], b):]
		b = b[copy(d.secret[:secretLen], b):]
	}
	k.suite, k.vers, k.alpn = uint8(si), vers, alpn
	k.flags = flagEstablished
	if flags&stateFlagKeyUpdateDue != 0 {
		k.flags |= flagKeyUpdateDue
	}
	*c.keys() = k
	c.aead = [2]cipher.AEAD{}
	return nil
}

// TicketKeys returns the session ticket keys, newest first: what a new process takes over in
// an upgrade (AdoptTicketKeys), so that tickets issued before it keep resuming sessions.
func (s *Server) TicketKeys() [][32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][32]byte(nil), s.ticketKeys...)
}

// AdoptTicketKeys replaces the ticket keys with keys (newest first, as TicketKeys gives
// them; at most the Server's TicketKeys are kept); the newest goes on encrypting tickets for
// a period from now.
func (s *Server) AdoptTicketKeys(keys [][32]byte) {
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticketKeys = append([][32]byte(nil), keys[:min(len(keys), s.keep)]...)
	s.base.SetSessionTicketKeys(s.ticketKeys)
	s.nextRotate = time.Now().Add(s.period)
}
