package handoff

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// An HTTP/2 connection moves as its KindConn record (descriptor, pending output, carry, TLS
// state; Mode says it is HTTP/2) followed by one KindH2 record, which owns no descriptor: the
// codec's state, opaque here (the caller's HTTP/2 codec writes and checks it), and the
// connection's open subscriber streams, each a stream id and a subscriber written as a Conn
// record's body: Handle names the subscriber (its stream record: the conn key is built on it),
// Random, Format, Origin, HasUser, Cursor, LastFrameMs, User, Topics and the lifetime as for
// an HTTP/1.x stream; the transport fields stay empty (the connection carries them).

// KindH2 is an HTTP/2 connection's codec state and its streams (no descriptor); it follows its
// connection's KindConn record.
const KindH2 Kind = 5

// Bounds of an H2 record.
const (
	// MaxH2State bounds the codec's state: its fixed part and the DATA its streams queue
	// while their flow-control windows are shut.
	MaxH2State = MaxPending
	// MaxH2Streams bounds the streams of one connection (HTTP/2's SETTINGS limit fits 16 bits
	// in pushwire's codec).
	MaxH2Streams = 1<<16 - 1
)

// H2 is an HTTP/2 connection's state beyond its Conn record.
type H2 struct {
	Handle  uint64 // the connection: its KindConn record's Handle
	Pings   uint8  // our dead-peer PINGs not answered yet
	Codec   []byte // the codec's state
	Streams []H2Stream
}

// H2Stream is one open stream's subscriber.
type H2Stream struct {
	ID  uint32 // the HTTP/2 stream id
	Sub Conn   // the subscriber; Transport, State, Pending and Carry are empty
}

const h2Fixed = 8 + 1

func appendH2(dst []byte, h *H2) ([]byte, error) {
	if len(h.Codec) > MaxH2State || len(h.Streams) > MaxH2Streams {
		return dst, ErrTooLarge
	}
	dst = binary.LittleEndian.AppendUint64(dst, h.Handle)
	dst = append(dst, h.Pings)
	dst = appendBytes32(dst, h.Codec)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(h.Streams)))
	for i := range h.Streams {
		s := &h.Streams[i]
		if s.Sub.Transport != TransportPlain || len(s.Sub.State)+len(s.Sub.Pending)+len(s.Sub.Carry) != 0 {
			return dst, fmt.Errorf("%w: an HTTP/2 stream with transport state", ErrCorrupt)
		}
		dst = binary.LittleEndian.AppendUint32(dst, s.ID)
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		var err error
		if dst, err = appendConn(dst, &s.Sub); err != nil {
			return dst, err
		}
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst, nil
}

// parseH2 reads an H2 record's body; its byte slices are views into b.
func parseH2(b []byte, h *H2) error {
	if len(b) < h2Fixed {
		return ErrCorrupt
	}
	h.Handle, h.Pings = binary.LittleEndian.Uint64(b), b[8]
	d := decoder{b: b[h2Fixed:]}
	h.Codec = d.bytes32(MaxH2State)
	n := d.uint16()
	h.Streams = h.Streams[:0]
	for range n {
		id := d.take(4)
		body := d.bytes32(MaxRecord)
		if d.err != nil {
			break
		}
		s := H2Stream{ID: binary.LittleEndian.Uint32(id)}
		if err := parseConn(body, &s.Sub); err != nil {
			return err
		}
		if s.Sub.Transport != TransportPlain || len(s.Sub.State)+len(s.Sub.Pending)+len(s.Sub.Carry) != 0 {
			return ErrCorrupt
		}
		h.Streams = append(h.Streams, s)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrCorrupt
	}
	return d.err
}

// clone gives h its own copies of the bytes it views.
func (h *H2) clone() H2 {
	out := H2{Handle: h.Handle, Pings: h.Pings, Codec: slices.Clone(h.Codec), Streams: make([]H2Stream, len(h.Streams))}
	for i, s := range h.Streams {
		out.Streams[i] = H2Stream{ID: s.ID, Sub: cloneConn(&s.Sub)}
	}
	return out
}
