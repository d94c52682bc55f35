package h2

import (
	"encoding/binary"
	"errors"
)

// Moving a connection to another process (pushwire's zero-downtime upgrade):
// the old process takes the codec's state with AppendState while the
// connection is quiet (Movable), the new one rebuilds it with Restore and
// feeds it the bytes that follow, as if nothing happened.
//
// What moves: the connection flags (handshake done, GOAWAY sent or received,
// our table size already told), the highest stream id the peer opened, both
// connection windows and the peer's initial stream window, our PINGs not yet
// acknowledged, the abuse budgets' counts, the limits we advertised in our
// SETTINGS (the peer holds us to them, whatever the new process's
// configuration says), and each open stream: id, send window, body bytes the
// peer may still send, Content-Length still due, flags and the DATA waiting
// for window (the connection's total of it, QueuedTotal, is their sum).
//
// What does not, because there is nothing to move:
//   - our HPACK encoder never indexes (header/encode.go): it has no table;
//   - the peer's encoder is held to our SETTINGS_HEADER_TABLE_SIZE of 0 from
//     the start, so once the peer acknowledged our SETTINGS and no header
//     block is in progress our decoder is empty (headers.go borrows one per
//     block). Movable requires exactly that: the new process starts with an
//     empty table, which is the table the peer's encoder has (its next block
//     opens with the size update to 0 if it has not sent one yet);
//   - a partial frame: Movable requires the reader to be between frames, so
//     the next byte in the socket starts a frame header.

// stateVersion is the first byte of AppendState's encoding.
const stateVersion = 1

// ErrState is Restore's answer for a state that does not describe a quiet
// connection this package could have exported.
var ErrState = errors.New("h2: unusable connection state")

// ErrNotQuiet is AppendState's answer while the connection is not Movable.
var ErrNotQuiet = errors.New("h2: connection not between frames or handshake not done")

// cfMoved are the connection flags a moved connection may carry.
const cfMoved = cfSettingsSeen | cfSettingsAcked | cfReady | cfGoAwaySent | cfGoAwayRecv | cfTableSent

// sfMoved are the stream flags a moved stream may carry.
const sfMoved = sfRemoteEnded | sfHeadersSent | sfEndQueued

const (
	stateFixed  = 1 + 2 + 4 + 4*4 + 2 + 4*2 + 6*2 + 4 + 4 + 2
	streamFixed = 4 + 4 + 4 + 4 + 1 + 4
)

// Movable reports whether the connection's state can move now: the
// handshake is done, the reader is between frames, no header block is in
// progress and the HPACK decoder holds nothing (our table size 0,
// acknowledged). A connection that is not waits a moment: the caller feeds
// it on and asks again.
func (c *Conn) Movable() bool {
	return c.st == stHeader && c.got == 0 && !c.blk.active && c.hb == nil && c.dec == nil &&
		c.flags&cfReady != 0 && c.lim.tableSize == 0
}

// AppendState appends the connection's state (see the package's moving
// notes) to dst; ErrNotQuiet when it is not Movable. It changes nothing:
// a handoff that fails leaves the connection as it was.
func (c *Conn) AppendState(dst []byte) ([]byte, error) {
	if !c.Movable() {
		return dst, ErrNotQuiet
	}
	be := binary.BigEndian
	dst = append(dst, stateVersion)
	dst = be.AppendUint16(dst, c.flags)
	dst = be.AppendUint32(dst, c.lastID)
	for _, v := range [...]int32{c.sendWin, c.recvWin, c.recvUnacked, c.peerInit} {
		dst = be.AppendUint32(dst, uint32(v))
	}
	dst = be.AppendUint16(dst, c.pingsOut)
	l := &c.lim
	for _, v := range [...]uint16{c.resets, c.pings, c.settings, c.empty,
		l.maxStreams, l.maxResets, l.maxPings, l.maxSettings, l.maxEmpty, l.tableSize} {
		dst = be.AppendUint16(dst, v)
	}
	dst = be.AppendUint32(dst, l.maxHeader)
	dst = be.AppendUint32(dst, uint32(l.maxBody))
	dst = be.AppendUint16(dst, uint16(len(c.streams)))
	for i := range c.streams {
		s := &c.streams[i]
		dst = be.AppendUint32(dst, s.id)
		dst = be.AppendUint32(dst, uint32(s.send))
		dst = be.AppendUint32(dst, uint32(s.recv))
		dst = be.AppendUint32(dst, uint32(s.clen))
		dst = append(dst, s.flags)
		dst = be.AppendUint32(dst, uint32(len(s.q)))
		dst = append(dst, s.q...)
	}
	return dst, nil
}

// StreamIDs appends the ids of the open streams to dst.
func (c *Conn) StreamIDs(dst []uint32) []uint32 {
	for i := range c.streams {
		dst = append(dst, c.streams[i].id)
	}
	return dst
}

// Restore rebuilds a connection from AppendState's bytes, between frames:
// the next bytes fed are a frame header. Every field is checked against
// what a connection of this package can reach; anything else is ErrState,
// never a connection that could misbehave later. The queued DATA is copied.
func Restore(state []byte) (*Conn, error) {
	if len(state) < stateFixed || state[0] != stateVersion {
		return nil, ErrState
	}
	be := binary.BigEndian
	b := state[1:]
	u16 := func() uint16 { v := be.Uint16(b); b = b[2:]; return v }
	u32 := func() uint32 { v := be.Uint32(b); b = b[4:]; return v }
	c := &Conn{st: stHeader}
	c.flags = u16()
	c.lastID = u32()
	c.sendWin, c.recvWin, c.recvUnacked, c.peerInit = int32(u32()), int32(u32()), int32(u32()), int32(u32())
	c.pingsOut = u16()
	c.resets, c.pings, c.settings, c.empty = u16(), u16(), u16(), u16()
	l := &c.lim
	l.maxStreams, l.maxResets, l.maxPings, l.maxSettings, l.maxEmpty, l.tableSize = u16(), u16(), u16(), u16(), u16(), u16()
	l.maxHeader, l.maxBody = u32(), int32(u32())
	n := int(u16())
	const need = cfSettingsSeen | cfSettingsAcked | cfReady
	switch {
	case c.flags&^cfMoved != 0 || c.flags&need != need,
		c.lastID > 1<<31-1 || c.lastID != 0 && c.lastID%2 == 0,
		c.sendWin < 0, c.recvWin < 0 || c.recvUnacked < 0 || c.recvUnacked >= replenishAt,
		c.recvWin+c.recvUnacked != defaultWindow, c.peerInit < 0,
		l.maxStreams == 0 || l.maxResets == 0 || l.maxPings == 0 || l.maxSettings == 0 || l.maxEmpty == 0,
		l.tableSize != 0, l.maxHeader == 0 || l.maxHeader > 64<<10, l.maxBody <= 0,
		n > int(l.maxStreams):
		return nil, ErrState
	}
	if n > 0 {
		c.streams = make([]stream, 0, n)
	}
	for range n {
		if len(b) < streamFixed {
			return nil, ErrState
		}
		s := stream{id: u32(), send: int32(u32()), recv: int32(u32()), clen: int32(u32()), flags: b[0]}
		b = b[1:]
		q := u32()
		switch {
		case s.id == 0 || s.id%2 == 0 || s.id > c.lastID, c.find(s.id) >= 0,
			!window(s.send), s.recv < 0 || s.recv > l.maxBody, s.clen < -1 || s.clen > l.maxBody,
			s.flags&^sfMoved != 0, q > uint32(len(b)),
			q > 0 && s.flags&sfHeadersSent == 0, s.flags&sfEndQueued != 0 && q == 0:
			return nil, ErrState
		}
		if q > 0 {
			s.q = append([]byte(nil), b[:q]...)
			b = b[q:]
			c.queued += int(q)
		}
		c.streams = append(c.streams, s)
	}
	if len(b) != 0 {
		return nil, ErrState
	}
	c.hint = 0
	return c, nil
}

// window reports whether v is a send window a connection can reach: at most
// 2^31-1, and no lower than a SETTINGS shrink can take it.
func window(v int32) bool { return v >= -maxWindow }
