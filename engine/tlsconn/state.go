package tlsconn

import (
	"encoding/binary"

	"github.com/pushwire/pushwire/engine/connbuf"
)

// A TLS conn handed to another process (an upgrade) carries its state: the length of the
// plaintext at the front of its inbound carry (4 bytes, little-endian: the rest of the carry
// is an incomplete record) followed by the record layer's (tlslayer.Conn.AppendState). Its
// pending output goes as sealed records, written as they are.

// AppendState seals what q holds (as Seal) and appends the conn's state, for a carry whose
// first plain bytes are plaintext, to dst. It returns the change to the conn's pending bytes
// (the caller puts q back) and the state; an error leaves dst as it was.
func (tc *Conn) AppendState(dst []byte, p *connbuf.OutPool, q *connbuf.OutQueue, plain int32) (delta int, state []byte, err error) {
	if delta, err = tc.Seal(p, q); err != nil {
		return delta, dst, err
	}
	st, err := tc.c.AppendState(binary.LittleEndian.AppendUint32(dst, uint32(plain)), tc.srv)
	if err != nil {
		return delta, dst, err
	}
	return delta, st, nil
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
