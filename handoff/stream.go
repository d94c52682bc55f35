package handoff

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Streaming: the old process's loops each send their records as they export them, and the
// new process adopts each connection as soon as its record and descriptor are in, so that a
// handoff's pause is about its slowest part (export, send or adopt) rather than their sum.
// The packets are wire.go's, in the same order rules (a descriptor packet after the data of
// the records it belongs to), so either side reads the other's whether it streams or not:
// the protocol version is unchanged.

// maxBatchData is how many record bytes a Batch holds before it should be sent: a few packets.
const maxBatchData = 4 * MaxPacket

// Batch is a run of records and their descriptors that one goroutine encodes and a
// BatchSender sends whole. The receiver pairs descriptors with records in order; that holds
// with several goroutines sending at once because each batch's data packets and its
// descriptor packet go out together. A Batch's buffer is reused from send to send.
type Batch struct {
	// buf is a data packet's type byte and then the records: a batch that fits one packet
	// goes out without a copy, a longer one packet by packet in place (BatchSender.Send).
	buf                    []byte
	fds                    []int
	nListen, nConn, nOther uint32
}

// Add encodes r into the batch, with fd for a listener or a connection (a duplicate is sent;
// fd stays the caller's). On an error the batch is as it was.
func (b *Batch) Add(r *Record, fd int) error {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, pData)
	}
	var err error
	if b.buf, err = AppendRecord(b.buf, r); err != nil {
		return err
	}
	switch r.Kind {
	case KindListener:
		b.nListen++
	case KindConn:
		b.nConn++
	default:
		b.nOther++
	}
	if r.Kind.HasFD() {
		b.fds = append(b.fds, fd)
	}
	return nil
}

// AddWith is Add of r, a listener or a connection with its descriptor fd, followed by other
// (nil: none), a record without one (an HTTP/2 connection's KindH2): both, or on an error
// neither — the batch is as it was, so that the caller may leave that connection out (a
// field over its bound) and go on with the next.
func (b *Batch) AddWith(r *Record, fd int, other *Record) error {
	n, nfd, nl, nc, no := len(b.buf), len(b.fds), b.nListen, b.nConn, b.nOther
	err := b.Add(r, fd)
	if err == nil && other != nil {
		err = b.Add(other, -1)
	}
	if err != nil {
		clear(b.buf[n:]) // a TLS conn's keys
		b.buf, b.fds = b.buf[:n], b.fds[:nfd]
		b.nListen, b.nConn, b.nOther = nl, nc, no
	}
	return err
}

// Full reports whether b should be sent before more is added: it holds MaxFDsPerPacket
// descriptors, or a few packets' worth of bytes.
func (b *Batch) Full() bool { return len(b.fds) == MaxFDsPerPacket || len(b.buf) >= maxBatchData }

// Empty reports whether b holds no record.
func (b *Batch) Empty() bool { return len(b.buf) <= 1 }

// reset clears what b holds (TLS conns' keys included) and keeps its capacity.
func (b *Batch) reset() {
	clear(b.buf)
	b.buf, b.fds = b.buf[:0], b.fds[:0]
	b.nListen, b.nConn, b.nOther = 0, 0, 0
}

// BatchSender sends Batches over a Sender from several goroutines at once, between the
// Sender's Hello (and any Add, which Send flushes first) and its End; End must come after
// every Send has returned.
type BatchSender struct {
	mu  sync.Mutex
	s   *Sender
	pkt [3]byte
}

// Batches returns a BatchSender writing through s.
func (s *Sender) Batches() *BatchSender { return &BatchSender{s: s} }

// Send writes b's records and then its descriptors, and empties b (its bytes cleared, sent or
// not: no copy of a TLS conn's keys stays in it).
func (bs *BatchSender) Send(b *Batch) error {
	defer b.reset()
	if b.Empty() {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	s := bs.s
	if err := s.flush(); err != nil {
		return err
	}
	// Packet k is buf[k*(MaxPacket-1):][:MaxPacket], its first byte set to pData: that byte
	// was the last of packet k-1, already sent.
	for start := 0; start < len(b.buf)-1; start += MaxPacket - 1 {
		b.buf[start] = pData
		if err := s.write(b.buf[start:min(start+MaxPacket, len(b.buf))], nil); err != nil {
			return err
		}
	}
	s.nListen += b.nListen
	s.nConn += b.nConn
	s.nOther += b.nOther
	if len(b.fds) == 0 {
		return nil
	}
	p := append(bs.pkt[:0], pFDs)
	p = binary.LittleEndian.AppendUint16(p, uint16(len(b.fds)))
	return s.write(p, unix.UnixRights(b.fds...))
}

// Adopter takes what a streamed handoff carries as it arrives (ReceiveStream).
type Adopter interface {
	// Hello is given the old process's meta before any record.
	Hello(m *Meta) error
	// Conn takes one connection. c's byte slices are views into the receiver's buffer, valid
	// during the call only (cleared after it: copy what is kept); fd is the adopter's from
	// the call on, even on an error.
	Conn(c *Conn, fd int) error
}

// ReceiveStream reads one handoff like Receive, but gives each connection to a as soon as its
// record and descriptor are in, instead of keeping them all until end: the new process adopts
// while the old one still exports. Listeners and the QoS records are collected in the
// returned Taken (its Conns stays empty). deadline bounds it. On an error every descriptor
// received and not given to a is closed, those of the Taken's listeners included.
func ReceiveStream(c *net.UnixConn, deadline time.Time, a Adopter) (*Taken, error) {
	c.SetDeadline(deadline)
	r := streamReceiver{a: a, pkt: make([]byte, MaxPacket+1), oob: make([]byte, unix.CmsgSpace(4*MaxFDsPerPacket))}
	t := &Taken{}
	err := r.run(c, t)
	clear(r.buf[:cap(r.buf)])
	clear(r.pkt)
	if err != nil {
		closeAll(r.fds)
		t.Close()
		return nil, err
	}
	return t, nil
}

type streamReceiver struct {
	a     Adopter
	pkt   []byte // one packet, reused and cleared after each
	oob   []byte
	buf   []byte // record bytes not handled yet
	fds   []int  // descriptors not yet paired with a record
	got   int    // descriptors the last packet carried
	rec   Record
	conns uint32
}

func (r *streamReceiver) run(c *net.UnixConn, t *Taken) error {
	p, err := r.read(c)
	if err != nil {
		return err
	}
	if err := parseHello(p, &t.Meta); err != nil {
		return err
	}
	if err := r.a.Hello(&t.Meta); err != nil {
		return err
	}
	for {
		p, err := r.read(c)
		if err != nil {
			return err
		}
		switch p[0] {
		case pData:
			r.buf = append(r.buf, p[1:]...)
			clear(p) // the packet may carry TLS keys: the buffer holds the only copy
			if err := r.handle(t); err != nil {
				return err
			}
		case pFDs:
			if len(p) != 3 || int(binary.LittleEndian.Uint16(p[1:])) != r.got {
				return fmt.Errorf("%w: descriptor packet announces %d, carries %d", ErrProtocol, binary.LittleEndian.Uint16(p[1:]), r.got)
			}
			if err := r.handle(t); err != nil {
				return err
			}
		case pEnd:
			return r.end(t, p[1:])
		case pAbort:
			return abortError(p[1:])
		default:
			return fmt.Errorf("%w: packet %d during the handoff", ErrProtocol, p[0])
		}
	}
}

// read reads one packet into r.pkt and appends its descriptors to r.fds (r.got of them).
func (r *streamReceiver) read(c *net.UnixConn) ([]byte, error) {
	r.got = 0
	n, oobn, flags, _, err := c.ReadMsgUnix(r.pkt, r.oob)
	if err != nil {
		return nil, err
	}
	if oobn > 0 {
		fds, err := parseRights(r.oob[:oobn])
		r.fds, r.got = append(r.fds, fds...), len(fds)
		if err != nil {
			return nil, err
		}
	}
	return checkPacket(r.pkt, n, flags)
}

// handle parses the complete records in buf and hands each on: a listener's or a
// connection's only once its descriptor is in (the data of a batch comes before its
// descriptors). The handled bytes are cleared.
func (r *streamReceiver) handle(t *Taken) error {
	off, fd := 0, 0
	defer func() {
		n := copy(r.buf, r.buf[off:])
		clear(r.buf[n:]) // handled bytes: keys included, no stale copy stays in the buffer
		r.buf = r.buf[:n]
		r.fds = r.fds[:copy(r.fds, r.fds[fd:])]
	}()
	for {
		b := r.buf[off:]
		if len(b) >= 4 && binary.LittleEndian.Uint32(b) > MaxRecord {
			return ErrTooLarge
		}
		if len(b) >= recordHead && Kind(b[5]).HasFD() && fd == len(r.fds) {
			return nil // its descriptor has not come yet
		}
		n, err := ParseRecord(b, &r.rec)
		if err != nil || n == 0 {
			return err
		}
		off += n
		rec := &r.rec
		switch rec.Kind {
		case KindListener:
			t.Listeners = append(t.Listeners, TakenListener{Listener: rec.Listener, FD: r.fds[fd]})
			fd++
		case KindConn:
			r.conns++
			fd++
			if err := r.a.Conn(&rec.Conn, r.fds[fd-1]); err != nil {
				return err
			}
		case KindStored:
			t.Stored = append(t.Stored, cloneStored(&rec.Stored))
		case KindSent:
			t.Sent = append(t.Sent, Sent{User: slices.Clone(rec.Sent.User), Entries: slices.Clone(rec.Sent.Entries)})
		case KindH2:
			t.H2 = append(t.H2, rec.H2.clone()) // adopted at the end, its conn by then
		case KindIdem:
			t.Idem = append(t.Idem, cloneIdem(&rec.Idem))
		}
	}
}

func (r *streamReceiver) end(t *Taken, b []byte) error {
	if len(b) != endLen {
		return fmt.Errorf("%w: end packet of %d bytes", ErrProtocol, len(b))
	}
	le := binary.LittleEndian
	nl, nc, no := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
	t.EndReconnects = le.Uint64(b[12:])
	if len(r.buf) != 0 || len(r.fds) != 0 || uint32(len(t.Listeners)) != nl || r.conns != nc ||
		uint64(len(t.Stored)+len(t.Sent)+len(t.H2)+len(t.Idem)) != uint64(no) {
		return fmt.Errorf("%w: end announces %d listeners, %d conns, %d other records; %d, %d and %d came, %d descriptors unpaired, %d bytes unhandled",
			ErrProtocol, nl, nc, no, len(t.Listeners), r.conns, len(t.Stored)+len(t.Sent)+len(t.H2)+len(t.Idem), len(r.fds), len(r.buf))
	}
	return nil
}

func cloneStored(m *Stored) Stored {
	out := *m
	out.User, out.To, out.Event = slices.Clone(m.User), slices.Clone(m.To), slices.Clone(m.Event)
	out.ContentType, out.Data = slices.Clone(m.ContentType), slices.Clone(m.Data)
	return out
}
