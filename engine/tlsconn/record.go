package tlsconn

import (
	"os"

	"github.com/pushwire/pushwire/engine/connbuf"
	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// The record work of a conn between the loop's buffers. Every call that queues sealed bytes
// returns how many, and every write how many went out, for the conn's pending count.

// Established reports whether the handshake is done.
func (tc *Conn) Established() bool { return tc.c.Established() }

// WantWrite reports whether a record is due with no plaintext (a KeyUpdate the peer asked
// for): the conn is to be flushed.
func (tc *Conn) WantWrite() bool { return tc.c.WantWrite() }

// Warm reports whether the conn holds built AEADs, or used its keys since the last Cool
// (tlslayer.Conn.Warm): an idle conn holds only its keys.
func (tc *Conn) Warm() bool { return tc.c.Warm() }

// Buffered reports whether sealed bytes wait to be written.
func (tc *Conn) Buffered() bool { return tc.ct != nil }

// Version returns the negotiated version once established.
func (tc *Conn) Version() uint16 { return tc.c.Version() }

// ALPN returns the negotiated application protocol, "" for none.
func (tc *Conn) ALPN() string { return tc.srv.NegotiatedProtocol(&tc.c) }

// Handshake feeds the bytes read during the handshake to it and queues the flight it
// answers with. It returns the bytes it used, the bytes it queued and whether the handshake
// completed in this call; on an error the conn is done (an alert crypto/tls wrote may be
// queued).
func (t *Table) Handshake(tc *Conn, p *connbuf.OutPool, data []byte) (used, queued int, done bool, err error) {
	used, out, err := tc.c.Handshake(tc.srv, data, t.out[:0])
	t.out = out[:0]
	queued = tc.queue(p, out)
	return used, queued, err == nil && tc.c.Established(), err
}

// Open decrypts the records at the front of buf in place (tlslayer.Conn.Open): the first
// plain bytes of buf are then plaintext, and the first used bytes were whole records.
// io.EOF is a close_notify. It marks the conn used: the caller puts it on the warm list
// (MarkWarm).
func (tc *Conn) Open(buf []byte) (plain, used int, err error) { return tc.c.Open(buf) }

// Alert queues the alert that goes with a record-layer or handshake failure, when there is
// one and the keys to seal it, and returns the bytes queued. The conn is Closed from here.
func (t *Table) Alert(tc *Conn, p *connbuf.OutPool, err error) (queued int) {
	tc.Closed = true
	if a, ok := tlslayer.AlertFor(err); ok && tc.c.Established() {
		return tc.queue(p, tc.c.AppendAlert(t.out[:0], a))
	}
	return 0
}

// CloseNotify queues a close_notify (once) and returns the bytes queued. The conn is Closed
// from here.
func (t *Table) CloseNotify(tc *Conn, p *connbuf.OutPool) (queued int) {
	if tc.Closed {
		return 0
	}
	tc.Closed = true
	return tc.queue(p, tc.c.AppendCloseNotify(t.out[:0]))
}

// queue appends bytes already in the wire format (handshake flights, alerts) to the
// ciphertext buffer.
func (tc *Conn) queue(p *connbuf.OutPool, b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if tc.ct == nil {
		tc.ct = p.Chunk(0)
	}
	tc.ct = append(tc.ct, b...)
	return len(b)
}

// Seal seals q's plaintext (q may be nil) and any KeyUpdate due into the ciphertext buffer;
// once the conn is Closed the plaintext is dropped. It returns how the conn's pending bytes
// change (sealed bytes added, plaintext taken); the caller puts q back.
func (tc *Conn) Seal(p *connbuf.OutPool, q *connbuf.OutQueue) (delta int, err error) {
	if q == nil && !tc.c.WantWrite() {
		return 0, nil
	}
	if tc.ct == nil {
		tc.ct = p.Chunk(0)
	} else if tc.ctOff > 0 && tc.ctOff >= len(tc.ct)/2 {
		k := copy(tc.ct, tc.ct[tc.ctOff:])
		tc.ct, tc.ctOff = tc.ct[:k], 0
	}
	before := len(tc.ct)
	if tc.c.WantWrite() {
		tc.ct, err = tc.c.Seal(tc.ct, nil)
	}
	if q != nil {
		for k := 0; k < q.Segs() && err == nil; k++ {
			b := q.Seg(k)
			delta -= len(b)
			if !tc.Closed {
				tc.ct, err = tc.c.Seal(tc.ct, b)
			}
		}
	}
	delta += len(tc.ct) - before
	if len(tc.ct) == tc.ctOff {
		p.PutChunk(tc.ct)
		tc.ct, tc.ctOff = nil, 0
	}
	return delta, err
}

// WriteTo writes the ciphertext buffer to fd until it is empty or the kernel send buffer
// is full, and gives the buffer back once it is all out. It returns the bytes written and
// whether the kernel buffer is full (EAGAIN or a short write); EAGAIN is not an error.
func (tc *Conn) WriteTo(fd int, p *connbuf.OutPool) (n int, full bool, err error) {
	for tc.ct != nil {
		k, err := sys.Write(fd, tc.ct[tc.ctOff:])
		switch err {
		case nil:
		case unix.EAGAIN:
			return n, true, nil
		case unix.EINTR:
			continue
		default:
			return n, false, wrapWrite(err)
		}
		n += k
		if tc.ctOff += k; tc.ctOff == len(tc.ct) {
			p.PutChunk(tc.ct)
			tc.ct, tc.ctOff = nil, 0
		} else {
			return n, true, nil // a short write: the kernel buffer is full
		}
	}
	return n, false, nil
}

func wrapWrite(err error) error { return os.NewSyscallError("write", err) }
