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
}

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
	r.buf = r.buf[:copy(r.buf, r.buf[off:])]
	r.pair(t)
	return nil
}

// pair gives each parsed record its descriptor, in order.
func (r *receiver) pair(t *Taken) {
	n := min(len(r.recs), len(r.fds))
	for i := range n {
		rec := &r.recs[i]
		if rec.Kind == KindListener {
			t.Listeners = append(t.Listeners, TakenListener{Listener: rec.Listener, FD: r.fds[i]})
		} else {
			t.Conns = append(t.Conns, TakenConn{Conn: rec.Conn, FD: r.fds[i]})
		}
	}
	r.recs = r.recs[:copy(r.recs, r.recs[n:])]
	r.fds = r.fds[:copy(r.fds, r.fds[n:])]
}

func (r *receiver) end(t *Taken, b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("%w: end packet of %d bytes", ErrProtocol, len(b))
	}
	nl, nc := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if len(r.buf) != 0 || len(r.recs) != 0 || len(r.fds) != 0 ||
		uint32(len(t.Listeners)) != nl || uint32(len(t.Conns)) != nc {
		return fmt.Errorf("%w: end announces %d listeners and %d conns; %d and %d came, %d records and %d descriptors unpaired, %d bytes unparsed",
			ErrProtocol, nl, nc, len(t.Listeners), len(t.Conns), len(r.recs), len(r.fds), len(r.buf))
	}
	return nil
}

func cloneRecord(r *Record) Record {
	out := *r
	c := &out.Conn
	c.User = slices.Clone(r.Conn.User)
	c.Topics = make([][]byte, len(r.Conn.Topics))
	for i, tp := range r.Conn.Topics {
		c.Topics[i] = slices.Clone(tp)
	}
	c.State = slices.Clone(r.Conn.State)
	c.Pending = slices.Clone(r.Conn.Pending)
	c.Carry = slices.Clone(r.Conn.Carry)
	return out
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
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("%w: malformed hello", ErrProtocol)
	}
	m.NodeID, m.Seq, m.Version, m.Boundary = string(node), binary.LittleEndian.Uint64(seq), string(ver), string(boundary)
	m.Upgrades = binary.LittleEndian.Uint64(upgrades)
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
