package handoff

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// TakenListener is a listening socket the new process received.
type TakenListener struct {
	Listener
	FD int
}

// TakenConn is a connection the new process received; its byte slices are its own.
type TakenConn struct {
	Conn
	FD int
}

// Taken is everything a handoff carried.
type Taken struct {
	Meta
	Listeners []TakenListener
	Conns     []TakenConn
	Stored    []Stored
	Sent      []Sent
	H2        []H2 // the HTTP/2 connections' state, each naming its conn by Handle
	Idem      []Idem
	// EndReconnects are connections the old process told to reconnect after its hello (they
	// could not move once exported): to add to Meta.UpgradeReconnects.
	EndReconnects uint64
}

// endLen is the end packet's body: the counts of listeners, conns and other records, and
// EndReconnects.
const endLen = 4 + 4 + 4 + 8

// Close closes every descriptor still in t (those the caller did not adopt: it sets FD to -1
// for the ones it did).
func (t *Taken) Close() {
	for _, l := range t.Listeners {
		if l.FD >= 0 {
			unix.Close(l.FD)
		}
	}
	for _, c := range t.Conns {
		if c.FD >= 0 {
			unix.Close(c.FD)
		}
	}
}

// Started tells the old process that the new one is up and about to Receive.
func Started(c *net.UnixConn, deadline time.Time) error {
	c.SetDeadline(deadline)
	_, _, err := c.WriteMsgUnix([]byte{pStarted}, nil, nil)
	return err
}

// Receive reads one handoff on the new process's side, from hello to end; deadline bounds it.
// On an error every descriptor received so far is closed.
func Receive(c *net.UnixConn, deadline time.Time) (*Taken, error) {
	c.SetDeadline(deadline)
	r := receiver{oob: make([]byte, unix.CmsgSpace(4*MaxFDsPerPacket))}
	t, err := r.run(c)
	if err != nil {
		closeAll(r.fds)
		t.Close()
		return nil, err
	}
	return t, nil
}

type receiver struct {
	oob  []byte
	buf  []byte // record bytes not parsed yet
	fds  []int  // descriptors not yet paired with a record
	recs []Record
	rec  Record
}

func (r *receiver) run(c *net.UnixConn) (*Taken, error) {
	t := &Taken{}
	p, fds, err := readPacket(c, r.oob)
	if err != nil {
		return t, err
	}
	r.fds = append(r.fds, fds...)
	if err := parseHello(p, &t.Meta); err != nil {
		return t, err
	}
	for {
		p, fds, err := readPacket(c, r.oob)
		if err != nil {
			return t, err
		}
		r.fds = append(r.fds, fds...)
		switch p[0] {
		case pData:
			if err := r.data(t, p[1:]); err != nil {
				return t, err
			}
		case pFDs:
			if len(p) != 3 || int(binary.LittleEndian.Uint16(p[1:])) != len(fds) {
				return t, fmt.Errorf("%w: descriptor packet announces %d, carries %d", ErrProtocol, binary.LittleEndian.Uint16(p[1:]), len(fds))
			}
			r.pair(t)
		case pEnd:
			return t, r.end(t, p[1:])
		case pAbort:
			return t, abortError(p[1:])
		default:
			return t, fmt.Errorf("%w: packet %d during the handoff", ErrProtocol, p[0])
		}
	}
}

// data appends a run of the record stream and parses the records it completes.
func (r *receiver) data(t *Taken, b []byte) error {
	r.buf = append(r.buf, b...)
	clear(b) // the packet may carry TLS keys: the parsed records hold the only copy (cloneRecord)
	off := 0
	for {
		n, err := ParseRecord(r.buf[off:], &r.rec)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		r.recs = append(r.recs, cloneRecord(&r.rec))
		off += n
	}
	n := copy(r.buf, r.buf[off:])
	clear(r.buf[n:]) // parsed bytes: keys included, no stale copy stays in the buffer
	r.buf = r.buf[:n]
	r.pair(t)
	return nil
}

// pair gives each parsed listener and connection record its descriptor, in order, and takes
// the records that own none.
func (r *receiver) pair(t *Taken) {
	n, f := 0, 0
	for ; n < len(r.recs); n++ {
		rec := &r.recs[n]
		switch rec.Kind {
		case KindStored:
			t.Stored = append(t.Stored, rec.Stored)
			continue
		case KindSent:
			t.Sent = append(t.Sent, rec.Sent)
			continue
		case KindH2:
			t.H2 = append(t.H2, rec.H2)
			continue
		case KindIdem:
			t.Idem = append(t.Idem, rec.Idem)
			continue
		}
		if f == len(r.fds) {
			break
		}
		if rec.Kind == KindListener {
			t.Listeners = append(t.Listeners, TakenListener{Listener: rec.Listener, FD: r.fds[f]})
		} else {
			t.Conns = append(t.Conns, TakenConn{Conn: rec.Conn, FD: r.fds[f]})
		}
		f++
	}
	r.recs = r.recs[:copy(r.recs, r.recs[n:])]
	r.fds = r.fds[:copy(r.fds, r.fds[f:])]
}

func (r *receiver) end(t *Taken, b []byte) error {
	if len(b) != endLen {
		return fmt.Errorf("%w: end packet of %d bytes", ErrProtocol, len(b))
	}
	le := binary.LittleEndian
	nl, nc, no := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
	t.EndReconnects = le.Uint64(b[12:])
	if len(r.buf) != 0 || len(r.recs) != 0 || len(r.fds) != 0 || uint32(len(t.Listeners)) != nl ||
		uint32(len(t.Conns)) != nc || uint64(len(t.Stored)+len(t.Sent)+len(t.H2)+len(t.Idem)) != uint64(no) {
		return fmt.Errorf("%w: end announces %d listeners, %d conns, %d other records; %d, %d and %d came, %d records and %d descriptors unpaired, %d bytes unparsed",
			ErrProtocol, nl, nc, no, len(t.Listeners), len(t.Conns), len(t.Stored)+len(t.Sent)+len(t.H2)+len(t.Idem), len(r.recs), len(r.fds), len(r.buf))
	}
	return nil
}

func cloneRecord(r *Record) Record {
	out := *r
	out.Conn = cloneConn(&r.Conn)
	out.H2 = H2{} // r is reused: only a KindH2 record's own state is kept
	if r.Kind == KindH2 {
		out.H2 = r.H2.clone()
	}
	m := &out.Stored
	m.User, m.To, m.Event = slices.Clone(m.User), slices.Clone(m.To), slices.Clone(m.Event)
	m.ContentType, m.Data = slices.Clone(m.ContentType), slices.Clone(m.Data)
	out.Sent.User, out.Sent.Entries = slices.Clone(r.Sent.User), slices.Clone(r.Sent.Entries)
	out.Idem = cloneIdem(&r.Idem)
	return out
}

func cloneConn(r *Conn) Conn {
	c := *r
	c.User = slices.Clone(r.User)
	c.Topics = make([][]byte, len(r.Topics))
	for i, tp := range r.Topics {
		c.Topics[i] = slices.Clone(tp)
	}
	c.State = slices.Clone(r.State)
	c.Pending = slices.Clone(r.Pending)
	c.Carry = slices.Clone(r.Carry)
	c.Allowed = nil // most streams have none: no slice for them
	for _, p := range r.Allowed {
		c.Allowed = append(c.Allowed, slices.Clone(p))
	}
	return c
}

func parseHello(p []byte, m *Meta) error {
	if p[0] == pAbort {
		return abortError(p[1:])
	}
	if p[0] != pHello || len(p) < 2 {
		return fmt.Errorf("%w: first packet %d is not hello", ErrProtocol, p[0])
	}
	if p[1] != ProtocolVersion {
		return fmt.Errorf("%w: protocol version %d (this build speaks %d)", ErrVersion, p[1], ProtocolVersion)
	}
	d := decoder{b: p[2:]}
	node := d.bytes16(maxNodeID)
	seq := d.take(8)
	ver := d.bytes16(maxVer)
	boundary := d.bytes16(maxVer)
	upgrades := d.take(8)
	failed := d.take(8)
	reconnects := d.take(8)
	nk := int(d.byte())
	if nk > MaxTicketKeys {
		return fmt.Errorf("%w: %d ticket keys", ErrProtocol, nk)
	}
	keys := d.take(32 * nk)
	nl := d.uint16()
	if nl > MaxLoops {
		return fmt.Errorf("%w: %d loops", ErrProtocol, nl)
	}
	marks := d.take(8 * nl)
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("%w: malformed hello", ErrProtocol)
	}
	m.NodeID, m.Seq, m.Version, m.Boundary = string(node), binary.LittleEndian.Uint64(seq), string(ver), string(boundary)
	m.Upgrades = binary.LittleEndian.Uint64(upgrades)
	m.UpgradesFailed, m.UpgradeReconnects = binary.LittleEndian.Uint64(failed), binary.LittleEndian.Uint64(reconnects)
	m.TicketKeys = make([][32]byte, nk)
	for i := range m.TicketKeys {
		copy(m.TicketKeys[i][:], keys[32*i:])
	}
	m.Loops = make([]LoopMarks, nl)
	for i := range m.Loops {
		m.Loops[i] = LoopMarks{Slots: binary.LittleEndian.Uint32(marks[8*i:]), Streams: binary.LittleEndian.Uint32(marks[8*i+4:])}
	}
	return nil
}

// Ready tells the old process that everything was taken, then waits for its go: nil means
// serve; an abort, a closed socket or the deadline means the old process keeps its sockets,
// and the caller must not serve any of them.
func Ready(c *net.UnixConn, deadline time.Time) error {
	c.SetDeadline(deadline)
	if _, _, err := c.WriteMsgUnix([]byte{pReady}, nil, nil); err != nil {
		return err
	}
	p, _, err := readPacket(c, nil)
	if err != nil {
		return err
	}
	switch p[0] {
	case pGo:
		return nil
	case pAbort:
		return abortError(p[1:])
	}
	return fmt.Errorf("%w: packet %d where go was expected", ErrProtocol, p[0])
}
