package perf

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The floor is the least work a push server can do per delivery on this machine: one
// epoll loop on one goroutine, one write(2) of one frame per delivery, nothing else. It
// is what pushbench's "floor" target runs (in-process in tests, "pushbench floor-server"
// in its own process for the suite, so it is pinned with taskset like the others), and
// no server can beat its throughput or its CPU per delivery. doc.go says exactly what it
// does and does not do.

// Pre-encoded bytes: the subscriber's stream head (raw body until close, no chunking),
// the publish answer, and the frame around a publish body.
var (
	floorHead = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
	floorOK   = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	floorBad  = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	framePre  = []byte("data: ")
	framePost = []byte("\n\n")
)

// Limits that keep a broken or hostile client from growing the floor's memory.
const (
	floorMaxRequest = 64 << 10 // head plus body of one request
	floorMaxSlot    = 1 << 22  // highest unicast index a subscriber may claim
)

var (
	errFloorChunked = errors.New("floor: chunked request bodies are not supported")
	errFloorTooBig  = errors.New("floor: request over 64 KiB")
	errFloorLength  = errors.New("floor: malformed Content-Length")
	errFloorSlot    = errors.New("floor: subscriber index over 4194304")
)

const (
	floorNew uint8 = iota // no complete request yet
	floorPub              // sent a POST: answers publishes
	floorSub              // sent a GET: receives frames
)

// floorConn is 12 bytes, in an array by fd sized at start for the open-files limit, so
// that an idle subscriber costs the floor 12 + 4 (+ 4 with an index) bytes of its pages.
type floorConn struct {
	state uint8
	open  bool
	slot  int32 // unicast index + 1 (0: none)
	pos   int32 // index in Floor.subs
}

// Floor is a running floor server.
type Floor struct {
	ln, ep, evfd int
	addr         string
	conns        []floorConn    // by fd
	carry        map[int][]byte // unfinished request bytes by fd (publishers between reads)
	subs         []int32        // subscriber fds, in no order: broadcast writes to each
	slots        []int32        // unicast index → fd + 1
	frame, out   []byte
	buf          []byte
	done         chan struct{}
	closeOnce    sync.Once
	err          error

	// Dropped counts frames a subscriber's full socket buffer refused (read after Close).
	Dropped int64
}

// StartFloorServer listens on addr ("127.0.0.1:0" for any port) and serves on a new
// goroutine until Close.
func StartFloorServer(addr string) (*Floor, error) {
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	f := &Floor{ln: -1, ep: -1, evfd: -1, buf: make([]byte, 64<<10), done: make(chan struct{}),
		carry: map[int][]byte{}}
	// Sized once for every fd this process may open: grown by doubling, the arrays and
	// their garbage would cost more RSS per idle connection than pushwire's state does.
	// Untouched pages cost nothing, so a generous limit only reserves address space.
	var lim unix.Rlimit
	n := 1 << 16
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur > 0 {
		n = int(min(lim.Cur, 1<<22))
	}
	f.conns, f.subs, f.slots = make([]floorConn, n), make([]int32, 0, n), make([]int32, n)
	if err := f.listen(ap); err != nil {
		f.closeFDs()
		return nil, err
	}
	go func() {
		f.err = f.loop()
		f.closeFDs()
		close(f.done)
	}()
	return f, nil
}

func (f *Floor) listen(ap *net.TCPAddr) error {
	var err error
	if f.ln, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return os.NewSyscallError("socket", err)
	}
	_ = unix.SetsockoptInt(f.ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := unix.Bind(f.ln, sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(f.ln, 4096); err != nil {
		return os.NewSyscallError("listen", err)
	}
	got, err := unix.Getsockname(f.ln)
	if err != nil {
		return os.NewSyscallError("getsockname", err)
	}
	in4 := got.(*unix.SockaddrInet4)
	f.addr = (&net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port}).String()
	if f.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if f.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	for _, fd := range []int{f.ln, f.evfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(f.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return os.NewSyscallError("epoll_ctl", err)
		}
	}
	return nil
}

// Addr is the host:port the floor listens on.
func (f *Floor) Addr() string { return f.addr }

// Done is closed when the loop has ended.
func (f *Floor) Done() <-chan struct{} { return f.done }

// Close stops the loop and closes every socket; it returns the loop's error, if any.
func (f *Floor) Close() error {
	f.closeOnce.Do(func() {
		_, _ = unix.Write(f.evfd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	<-f.done
	return f.err
}

func (f *Floor) closeFDs() {
	for fd := range f.conns {
		if f.conns[fd].open {
			unix.Close(fd)
		}
	}
	for _, fd := range []int{f.ln, f.ep, f.evfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (f *Floor) loop() error {
	events := make([]unix.EpollEvent, 1024)
	for {
		n, err := floorWait(f.ep, events)
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			switch int(ev.Fd) {
			case f.evfd:
				return nil
			case f.ln:
				f.accept()
			default:
				f.read(int(ev.Fd))
			}
		}
	}
}

func (f *Floor) accept() {
	for {
		fd, err := floorAccept(f.ln)
		if err != nil {
			return // EAGAIN: none left; EMFILE and the like: the client's connect fails
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := floorAdd(f.ep, fd); err != nil {
			unix.Close(fd)
			continue
		}
		for fd >= len(f.conns) {
			f.conns = append(f.conns, floorConn{})
		}
		f.conns[fd] = floorConn{open: true}
	}
}

func (f *Floor) read(fd int) {
	c := &f.conns[fd]
	n, err := floorRead(fd, f.buf)
	if err != nil && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) {
		return
	}
	if err != nil || n == 0 {
		f.drop(fd)
		return
	}
	if c.state == floorSub {
		return // a subscriber has nothing more to say; its input is discarded
	}
	b := f.buf[:n]
	carry := f.carry[fd]
	if len(carry) > 0 {
		carry = append(carry, b...)
		b = carry
	}
	f.out = f.out[:0]
	for c.state != floorSub {
		head, total, err := requestEnd(b)
		if err != nil {
			f.out = append(f.out, floorBad...)
			f.flush(fd)
			f.drop(fd)
			return
		}
		if total == 0 || len(b) < total {
			break
		}
		if err := f.request(fd, b[:head], b[head:total]); err != nil {
			f.out = append(f.out, floorBad...)
			f.flush(fd)
			f.drop(fd)
			return
		}
		b = b[total:]
	}
	if !f.flush(fd) {
		f.drop(fd)
		return
	}
	switch {
	case len(b) == 0 || c.state == floorSub:
		if carry != nil {
			delete(f.carry, fd)
		}
	default:
		f.carry[fd] = append(carry[:0], b...) // an overlapping copy to the front is fine
	}
}

// request handles one complete request: a GET subscribes, anything else publishes body.
func (f *Floor) request(fd int, head, body []byte) error {
	c := &f.conns[fd]
	if bytes.HasPrefix(head, []byte("GET ")) {
		slot, ok := pathIndex(head)
		if ok && slot >= floorMaxSlot {
			return errFloorSlot
		}
		c.state = floorSub
		f.out = append(f.out, floorHead...)
		c.pos = int32(len(f.subs))
		f.subs = append(f.subs, int32(fd))
		if ok {
			for slot >= len(f.slots) {
				f.slots = append(f.slots, 0)
			}
			if old := f.slots[slot]; old != 0 {
				f.conns[old-1].slot = 0 // the newer subscriber takes the index
			}
			f.slots[slot] = int32(fd) + 1
			c.slot = int32(slot) + 1
		}
		return nil
	}
	c.state = floorPub
	f.frame = append(append(append(f.frame[:0], framePre...), body...), framePost...)
	if slot, ok := pathIndex(head); ok {
		if slot < len(f.slots) && f.slots[slot] != 0 {
			f.deliver(int(f.slots[slot] - 1))
		}
	} else {
		// Backwards: deliver may drop the subscriber it writes to, which moves the last
		// subscriber into its place.
		for i := len(f.subs) - 1; i >= 0; i-- {
			if i < len(f.subs) {
				f.deliver(int(f.subs[i]))
			}
		}
	}
	f.out = append(f.out, floorOK...)
	return nil
}

// deliver writes the frame to subscriber fd once: a full socket buffer drops the frame.
func (f *Floor) deliver(fd int) {
	n, err := floorWrite(fd, f.frame)
	switch {
	case err == nil && n == len(f.frame):
	case errors.Is(err, unix.EAGAIN) || err == nil:
		f.Dropped++ // a short write leaves a partial frame: the stream is then garbled, as pushbench will see
	default:
		f.drop(fd)
	}
}

// flush writes the answers gathered for one read; a publisher whose socket buffer cannot
// take a few answers is not reading them, and false drops it.
func (f *Floor) flush(fd int) bool {
	if len(f.out) == 0 {
		return true
	}
	n, err := floorWrite(fd, f.out)
	return err == nil && n == len(f.out)
}

func (f *Floor) drop(fd int) {
	c := &f.conns[fd]
	if !c.open {
		return
	}
	if c.state == floorSub {
		last := f.subs[len(f.subs)-1]
		f.subs[c.pos] = last
		f.conns[last].pos = c.pos
		f.subs = f.subs[:len(f.subs)-1]
		if c.slot != 0 {
			f.slots[c.slot-1] = 0
		}
	}
	delete(f.carry, fd)
	unix.Close(fd)
	*c = floorConn{}
}

// requestEnd finds where the request at the start of b ends: head is the length of its
// head (through the blank line), total that plus Content-Length; total is 0 while the
// head is incomplete. It reads no header but Content-Length and Transfer-Encoding.
func requestEnd(b []byte) (head, total int, err error) {
	i := bytes.Index(b, crlfcrlf)
	if i < 0 {
		if len(b) > floorMaxRequest {
			return 0, 0, errFloorTooBig
		}
		return 0, 0, nil
	}
	head = i + 4
	length := 0
	rest := b[:i+2]
	for {
		j := bytes.Index(rest, []byte("\r\n"))
		if j < 0 {
			break
		}
		line := rest[:j]
		rest = rest[j+2:]
		switch {
		case len(line) > 15 && bytes.EqualFold(line[:15], []byte("content-length:")):
			v := bytes.TrimSpace(line[15:])
			n, used := parseUint(v)
			if used == 0 || used != len(v) || n > floorMaxRequest {
				return 0, 0, errFloorLength
			}
			length = int(n)
		case len(line) > 18 && bytes.EqualFold(line[:18], []byte("transfer-encoding:")):
			return 0, 0, errFloorChunked
		}
	}
	if head+length > floorMaxRequest {
		return 0, 0, errFloorTooBig
	}
	return head, head + length, nil
}

// pathIndex reads the decimal digits that end the request target of head ("GET
// /sub/pb7u42 HTTP/1.1" → 42): the cheapest addressing pushbench's ids allow.
func pathIndex(head []byte) (int, bool) {
	line := head
	if i := bytes.IndexByte(head, '\r'); i >= 0 {
		line = head[:i]
	}
	end := bytes.LastIndexByte(line, ' ')
	start := bytes.IndexByte(line, ' ')
	if start < 0 || end <= start {
		return 0, false
	}
	target := line[start+1 : end]
	k := len(target)
	for k > 0 && target[k-1] >= '0' && target[k-1] <= '9' {
		k--
	}
	if k == len(target) || len(target)-k > 9 {
		return 0, false
	}
	v, _ := parseUint(target[k:])
	return int(v), true
}
