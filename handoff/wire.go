package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ProtocolVersion is the handshake's version, sent in hello; a new process that reads
// another aborts.
// 2: hello carries the TLS session ticket keys and every upgrade counter; 3: HTTP/2 connections
// move (KindH2 records); 4: record version 2 (Idempotency-Keys, allowed topic patterns), hello
// carries each loop's high-water marks (Meta.Loops), end the reconnects counted after the hello
const ProtocolVersion = 4

// Packet bounds.
const (
	// MaxFDsPerPacket is the most descriptors one packet carries: the kernel's SCM_MAX_FD
	// (253) per sendmsg.
	MaxFDsPerPacket = 253
	// MaxPacket is the largest packet either side sends or accepts.
	MaxPacket = 64 << 10
	// maxReason bounds an abort's reason.
	maxReason = 1024
	maxNodeID = 64
	maxVer    = 256
)

// Packet types, the first byte of every packet.
const (
	pHello byte = 1 + iota
	pData
	pFDs
	pEnd
	pReady
	pGo
	pAbort
	pStarted
)

var (
	// ErrAborted is the other side's abort; the error's text carries its reason.
	ErrAborted = errors.New("handoff: aborted by the other side")
	// ErrProtocol is a packet out of order, malformed, or of an unknown type.
	ErrProtocol = errors.New("handoff: protocol error")
)

// Meta is what the old process tells the new one besides its sockets.
type Meta struct {
	NodeID  string // the node's id, kept across the upgrade
	Seq     uint64 // the last message id handed out: the new process continues after it
	Version string // the old process's build version, for logs
	// Boundary is the multipart boundary the node's streams were started with: their
	// Content-Type names it, so the new process must frame their parts with it.
	Boundary string
	Upgrades uint64 // upgrades the node went through before this one
	// UpgradesFailed and UpgradeReconnects are the node's other upgrade counters, carried
	// like Upgrades so that /metrics counters do not fall back at an upgrade: the failures
	// so far, and the connections told to reconnect because they could not move (this
	// upgrade's included).
	UpgradesFailed, UpgradeReconnects uint64
	// TicketKeys are the TLS session ticket keys, newest first (at most MaxTicketKeys): the
	// new process decrypts the tickets the old one issued, so resumed sessions keep working.
	// Secrets: the handoff socket is private to the two processes.
	TicketKeys [][32]byte
	// Loops are the old process's high-water marks, one per loop: the new process adopts no
	// connection slot or HTTP/2 stream record at or past them, so that one bad index in a
	// record cannot make it grow its tables to the format's limits (2^23 records a loop).
	Loops []LoopMarks
}

// LoopMarks bound what a loop of the old process had: Slots connection slots, Streams
// HTTP/2 stream records (every index handed over is below them).
type LoopMarks struct{ Slots, Streams uint32 }

// MaxTicketKeys bounds Meta.TicketKeys.
const MaxTicketKeys = 64

// MaxLoops bounds Meta.Loops: a handle has 8 bits for its loop.
const MaxLoops = 256

// Pair makes a connected SOCK_SEQPACKET pair: the first end for this process, the second as an
// *os.File to pass to a child (exec.Cmd.ExtraFiles). Both are close-on-exec; ExtraFiles clears
// the flag on the child's copy.
func Pair() (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	f := os.NewFile(uintptr(fds[0]), "handoff")
	c, err := FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	return c, os.NewFile(uintptr(fds[1]), "handoff-child"), nil
}

// FileConn turns an inherited handoff socket into a conn; f may be closed afterwards.
func FileConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%w: descriptor is not a unix socket", ErrProtocol)
	}
	return uc, nil
}

// Sender writes one handoff from the old process's side. Its methods must be called from one
// goroutine: Hello, then Add for every socket, then End, then AwaitReady and Go or Abort.
type Sender struct {
	c       *net.UnixConn
	data    []byte // record bytes not sent yet
	fds     []int  // descriptors not sent yet, in record order
	pkt     []byte
	records []byte // scratch for one record
	nListen uint32
	nConn   uint32
	nOther  uint32 // records without a descriptor
}

// NewSender writes to c; deadline bounds every write and read of the handoff.
func NewSender(c *net.UnixConn, deadline time.Time) *Sender {
	c.SetDeadline(deadline)
	return &Sender{c: c}
}

// Hello opens the handoff.
func (s *Sender) Hello(m Meta) error {
	if len(m.NodeID) > maxNodeID || len(m.Version) > maxVer || len(m.Boundary) > maxVer || len(m.TicketKeys) > MaxTicketKeys ||
		len(m.Loops) > MaxLoops {
		return ErrTooLarge
	}
	p := append(s.pkt[:0], pHello, ProtocolVersion)
	p = appendBytes16(p, []byte(m.NodeID))
	p = binary.LittleEndian.AppendUint64(p, m.Seq)
	p = appendBytes16(p, []byte(m.Version))
	p = appendBytes16(p, []byte(m.Boundary))
	p = binary.LittleEndian.AppendUint64(p, m.Upgrades)
	p = binary.LittleEndian.AppendUint64(p, m.UpgradesFailed)
	p = binary.LittleEndian.AppendUint64(p, m.UpgradeReconnects)
	p = append(p, byte(len(m.TicketKeys)))
	for _, k := range m.TicketKeys {
		p = append(p, k[:]...)
	}
	p = binary.LittleEndian.AppendUint16(p, uint16(len(m.Loops)))
	for _, l := range m.Loops {
		p = binary.LittleEndian.AppendUint32(p, l.Slots)
		p = binary.LittleEndian.AppendUint32(p, l.Streams)
	}
	s.pkt = p
	return s.write(p, nil)
}

// Add queues r and, for a listener or a connection, its descriptor fd (a duplicate is sent;
// fd stays the caller's; other kinds ignore it). Records and descriptors go out in batches:
// data packets whenever MaxPacket bytes are queued, descriptors MaxFDsPerPacket at a time,
// each batch after the records it belongs to.
func (s *Sender) Add(r *Record, fd int) error {
	var err error
	if s.records, err = AppendRecord(s.records[:0], r); err != nil {
		return err
	}
	s.data = append(s.data, s.records...)
	clear(s.records) // a TLS conn's keys: no copy outlives its send (see flushData)
	switch r.Kind {
	case KindListener:
		s.nListen++
	case KindConn:
		s.nConn++
	default:
		s.nOther++
	}
	if r.Kind.HasFD() {
		s.fds = append(s.fds, fd)
	}
	if len(s.fds) == MaxFDsPerPacket {
		return s.flush()
	}
	if len(s.data) >= 4*MaxPacket {
		return s.flushData()
	}
	return nil
}

// Conns is how many connection records were added.
func (s *Sender) Conns() int { return int(s.nConn) }

// End sends what is queued and the counts.
func (s *Sender) End() error { return s.EndWith(0) }

// EndWith is End telling the new process of reconnects more connections told to reconnect
// since the hello (Taken.EndReconnects): those that could not move once exported.
func (s *Sender) EndWith(reconnects uint64) error {
	if err := s.flush(); err != nil {
		return err
	}
	p := append(s.pkt[:0], pEnd)
	p = binary.LittleEndian.AppendUint32(p, s.nListen)
	p = binary.LittleEndian.AppendUint32(p, s.nConn)
	p = binary.LittleEndian.AppendUint32(p, s.nOther)
	p = binary.LittleEndian.AppendUint64(p, reconnects)
	s.pkt = p
	return s.write(p, nil)
}

// Flush sends what is queued now: records and descriptors, so that the caller may close
// descriptors it added.
func (s *Sender) Flush() error { return s.flush() }

func (s *Sender) flush() error {
	if err := s.flushData(); err != nil {
		return err
	}
	if len(s.fds) == 0 {
		return nil
	}
	p := append(s.pkt[:0], pFDs)
	p = binary.LittleEndian.AppendUint16(p, uint16(len(s.fds)))
	s.pkt = p
	err := s.write(p, unix.UnixRights(s.fds...))
	s.fds = s.fds[:0]
	return err
}

func (s *Sender) flushData() error {
	for len(s.data) > 0 {
		n := min(len(s.data), MaxPacket-1)
		p := append(append(s.pkt[:0], pData), s.data[:n]...)
		s.pkt = p
		err := s.write(p, nil)
		// The records carry TLS conns' keys and sequence numbers: once sent (or not), the
		// old process keeps no copy of them in its buffers. A conn taken back after a failed
		// handoff goes on with the keys its engine slot holds.
		clear(p)
		clear(s.data[:n])
		if err != nil {
			return err
		}
		s.data = s.data[n:]
	}
	s.data = s.data[:0]
	return nil
}

func (s *Sender) write(p, oob []byte) error {
	_, _, err := s.c.WriteMsgUnix(p, oob, nil)
	return err
}

// AwaitStarted waits until the new process is up and about to receive (Started): the old one
// keeps serving until then, so that the new process's start-up is no part of the pause. An
// abort, a closed socket or the deadline is an error.
func (s *Sender) AwaitStarted() error {
	p, _, err := readPacket(s.c, nil)
	if err != nil {
		return err
	}
	switch p[0] {
	case pStarted:
		return nil
	case pAbort:
		return abortError(p[1:])
	}
	return fmt.Errorf("%w: packet %d where started was expected", ErrProtocol, p[0])
}

// AwaitReady waits for the new process's ready. An abort, a closed socket (the new process
// exited or crashed) or the deadline is an error: the caller keeps its sockets.
func (s *Sender) AwaitReady() error {
	p, _, err := readPacket(s.c, nil)
	if err != nil {
		return err
	}
	switch p[0] {
	case pReady:
		return nil
	case pAbort:
		return abortError(p[1:])
	}
	return fmt.Errorf("%w: packet %d where ready was expected", ErrProtocol, p[0])
}

// Go lets the new process serve: from here the sockets are its own.
func (s *Sender) Go() error { return s.write([]byte{pGo}, nil) }

// Abort tells the other side to undo, with a reason for its log.
func Abort(c *net.UnixConn, reason string) error {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	_, _, err := c.WriteMsgUnix(append([]byte{pAbort}, reason...), nil, nil)
	return err
}

func abortError(reason []byte) error {
	return fmt.Errorf("%w: %q", ErrAborted, reason[:min(len(reason), maxReason)])
}

// readPacket reads one packet and the descriptors that came with it (close-on-exec).
// A zero-length read is the other side gone.
func readPacket(c *net.UnixConn, oob []byte) ([]byte, []int, error) {
	buf := make([]byte, MaxPacket+1)
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	if oobn > 0 {
		fds, err = parseRights(oob[:oobn])
	}
	if err == nil {
		buf, err = checkPacket(buf, n, flags)
	}
	if err != nil {
		closeAll(fds)
		return nil, nil, err
	}
	return buf, fds, nil
}

// checkPacket returns the n bytes read into buf, or why the packet is unusable.
func checkPacket(buf []byte, n, flags int) ([]byte, error) {
	switch {
	case flags&unix.MSG_CTRUNC != 0:
		return nil, fmt.Errorf("%w: descriptors truncated (more than %d in one packet)", ErrProtocol, MaxFDsPerPacket)
	case n == 0:
		return nil, fmt.Errorf("%w: the other side closed the handoff socket", ErrProtocol)
	case n > MaxPacket || flags&unix.MSG_TRUNC != 0:
		return nil, fmt.Errorf("%w: packet over %d bytes", ErrProtocol, MaxPacket)
	}
	return buf[:n], nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, os.NewSyscallError("recvmsg", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("%w: control message: %v", ErrProtocol, err)
		}
		// Close-on-exec already (a later upgrade's child must not inherit them): on Linux the
		// net package reads with MSG_CMSG_CLOEXEC, which spares a fcntl per descriptor.
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
