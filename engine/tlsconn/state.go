package tlsconn

import (
	"encoding/binary"

	"github.com/pushwire/pushwire/engine/connbuf"
)

// A TLS conn handed to another process (an upgrade) carries its state: the length of the
// plaintext at the front of its inbound carry (4 bytes, little-endian: the rest of the carry
// is an incomplete record) followed by the record layer's (tlslayer.Conn.AppendState). Its
// pending output goes as sealed records, written as they are.

// AppendState appends the conn's state, for a carry whose first plain bytes are plaintext,
// to dst; an error leaves dst as it was. The plaintext queued for the conn is to be sealed
// first (Seal), so that its pending output is records the sequence numbers count.
func (tc *Conn) AppendState(dst []byte, plain int32) ([]byte, error) {
	st, err := tc.c.AppendState(binary.LittleEndian.AppendUint32(dst, uint32(plain)), tc.srv)
	if err != nil {
		return dst, err
	}
	return st, nil
}

// AppendPending appends the sealed bytes not yet written to dst.
func (tc *Conn) AppendPending(dst []byte) []byte {
	if tc.ct == nil {
		return dst
	}
	return append(dst, tc.ct[tc.ctOff:]...)
}

// StateFits reports whether state (AppendState's) can go with a carry of carried bytes.
func StateFits(state []byte, carried int) bool {
	return len(state) >= 4 && int(binary.LittleEndian.Uint32(state)) <= carried
}

// SetState rebuilds an established conn from state (StateFits first) and queues its
// pending sealed records. It returns the length of the plaintext at the front of its carry.
func (tc *Conn) SetState(state, pending []byte, p *connbuf.OutPool) (plain int32, err error) {
	if err := tc.c.SetState(state[4:], tc.srv); err != nil {
		return 0, err
	}
	if len(pending) > 0 {
		tc.ct = append(p.Chunk(len(pending)), pending...)
	}
	return int32(binary.LittleEndian.Uint32(state)), nil
}
