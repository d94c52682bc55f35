package perf

import (
	"bytes"
	"encoding/binary"
	"errors"

	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
)

// HTTP/2 subscribers (Target.H2Streams > 0): subscribers i .. i+H2Streams-1 of a worker
// share the connection of the first (the group's leader), one stream each (ids 1, 3, 5,
// …). The leader's fd is the only one in epoll; its bytes are cut into frames here, DATA
// goes to the stream's own Stream (read bare: DATA carries what a chunk carries), HEADERS
// starts it. Windows are opened wide at the start so that flow control never waits.

// h2group is the frame reader of one HTTP/2 connection.
type h2group struct {
	hdr      [9]byte
	got      int // header bytes collected
	left     int // payload bytes of the current frame still to come
	pay      []byte
	dec      *hpack.Decoder
	status   int
	key      string
	resolved bool // its first answer (or failure) ended the connect in flight
	started  bool // the preface was written: events are reads
	dead     bool // closed: later events for its fd are stale
}

// h2Window is the window every stream and the connection get.
const h2Window = 1 << 30

var errH2Frame = errors.New("perf: HTTP/2 frame over 1 MiB")

// group is the number of subscribers per connection.
func (w *worker) group() int { return max(w.cfg.Target.H2Streams, 1) }

// h2Members returns the subscriber indexes [i, end) of leader i's connection.
func (w *worker) h2Members(i int) (int, int) { return i, min(i+w.group(), len(w.conns)) }

// h2Start writes the preface, our SETTINGS and window, and one subscribe HEADERS per
// member of leader i's connection.
func (w *worker) h2Start(i int) error {
	from, end := w.h2Members(i)
	g := &w.h2[i/w.group()]
	g.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		switch f.Name {
		case ":status":
			g.status, _ = atoiStatus(f.Value)
		case "push-conn":
			g.key = f.Value
		}
	})
	b := append(w.req[:0], "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"...)
	b = h2FrameHeader(b, 6, 4, 0, 0)
	b = binary.BigEndian.AppendUint16(b, 4) // SETTINGS_INITIAL_WINDOW_SIZE
	b = binary.BigEndian.AppendUint32(b, h2Window)
	b = h2FrameHeader(b, 4, 8, 0, 0)
	b = binary.BigEndian.AppendUint32(b, h2Window-65535)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	scheme := "http"
	if w.cfg.Target.TLS {
		scheme = "https" // h2 by ALPN through the TLS bridge
	}
	for j := from; j < end; j++ {
		blk.Reset()
		w.path = w.cfg.Target.AppendSubscribePath(w.path[:0], w.id(j), w.cfg.Shared)
		enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
		enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: scheme})
		enc.WriteField(hpack.HeaderField{Name: ":authority", Value: w.cfg.Target.Edge})
		enc.WriteField(hpack.HeaderField{Name: ":path", Value: string(w.path[len("GET "):])})
		if w.cfg.Target.Format == FormatSSE {
			enc.WriteField(hpack.HeaderField{Name: "accept", Value: "text/event-stream"})
		}
		b = h2FrameHeader(b, blk.Len(), 1, 0x5, uint32(2*(j-from)+1)) // END_STREAM|END_HEADERS
		b = append(b, blk.Bytes()...)
		w.conns[j].state = connHeadWait
		w.conns[j].st = Stream{Format: w.cfg.Target.Format}
	}
	w.req = b
	if n, err := unix.Write(int(w.conns[i].fd), b); err != nil || n != len(b) {
		return errors.New("perf: HTTP/2 connection preface not written whole")
	}
	return nil
}

func h2FrameHeader(b []byte, n, typ int, flags byte, stream uint32) []byte {
	b = append(b, byte(n>>16), byte(n>>8), byte(n), byte(typ), flags)
	return binary.BigEndian.AppendUint32(b, stream)
}

func atoiStatus(s string) (int, bool) {
	v, n := parseUint([]byte(s))
	return int(v), n == len(s) && n > 0
}

// h2Feed cuts the bytes read on leader i's connection into frames.
func (w *worker) h2Feed(i int, b []byte) error {
	g := &w.h2[i/w.group()]
	for len(b) > 0 {
		if g.got < 9 {
			k := copy(g.hdr[g.got:], b)
			g.got += k
			b = b[k:]
			if g.got < 9 {
				return nil
			}
			g.left = int(g.hdr[0])<<16 | int(g.hdr[1])<<8 | int(g.hdr[2])
			if g.left > 1<<20 {
				return errH2Frame
			}
			g.pay = g.pay[:0]
		}
		k := min(len(b), g.left)
		if g.hdr[3] == 0 { // DATA: straight to the stream
			if j := w.h2Member(i, g); j >= 0 && w.conns[j].state == connOpen {
				if err := w.conns[j].st.Feed(b[:k], w); err != nil {
					w.h2Close(j)
				}
			}
		} else {
			g.pay = append(g.pay, b[:k]...)
		}
		g.left -= k
		b = b[k:]
		if g.left == 0 {
			g.got = 0
			if err := w.h2Frame(i, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// h2Member is the subscriber of the current frame's stream; -1 for none.
func (w *worker) h2Member(i int, g *h2group) int {
	id := binary.BigEndian.Uint32(g.hdr[5:]) & 0x7fffffff
	from, end := w.h2Members(i)
	if id == 0 || id%2 == 0 || from+int(id/2) >= end {
		return -1
	}
	return from + int(id/2)
}

// h2Frame acts on a whole frame other than DATA.
func (w *worker) h2Frame(i int, g *h2group) error {
	typ, flags := g.hdr[3], g.hdr[4]
	fd := int(w.conns[i].fd)
	switch typ {
	case 4: // SETTINGS: acknowledge
		if flags&1 == 0 {
			_, _ = unix.Write(fd, []byte{0, 0, 0, 4, 1, 0, 0, 0, 0})
		}
	case 6: // PING: answer
		if flags&1 == 0 && len(g.pay) == 8 {
			_, _ = unix.Write(fd, append([]byte{0, 0, 8, 6, 1, 0, 0, 0, 0}, g.pay...))
		}
	case 1: // HEADERS: the answer to a subscribe
		g.status, g.key = 0, ""
		if _, err := g.dec.Write(g.pay); err != nil {
			return err
		}
		j := w.h2Member(i, g)
		if j < 0 || w.conns[j].state != connHeadWait {
			return nil
		}
		if !g.resolved {
			g.resolved = true
			w.inflight--
		}
		if g.status != 200 {
			w.h2Close(j)
			return nil
		}
		w.conns[j].st.StartBody(g.status, g.key)
		w.conns[j].state = connOpen
		w.stats.Connected++
		w.checkConnected()
	case 3: // RST_STREAM
		if j := w.h2Member(i, g); j >= 0 {
			w.h2Close(j)
		}
	}
	return nil
}

// h2Close ends subscriber j (its stream): counted as failed before its answer, closed
// after.
func (w *worker) h2Close(j int) {
	c := &w.conns[j]
	switch c.state {
	case connOpen:
		w.stats.Closed++
	case connConnecting, connHeadWait, connIdle:
		w.stats.Failed++
	default:
		return
	}
	c.state = connClosed
	c.st = Stream{}
	w.checkConnected()
}

// h2Event handles epoll events of leader i's connection: connected, then readable.
func (w *worker) h2Event(i int, events uint32) {
	g := &w.h2[i/w.group()]
	fd := int(w.conns[i].fd)
	switch {
	case g.dead:
		return
	case !g.started:
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
			w.h2Fail(i)
			return
		}
		g.started = true
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := w.h2Start(i); err != nil || unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, fd, &ev) != nil {
			w.h2Fail(i)
		}
		return
	}
	n, err := unix.Read(fd, w.buf)
	if err != nil && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) {
		return
	}
	if err != nil || n == 0 {
		w.h2Fail(i)
		return
	}
	w.now = MonoNow()
	if err := w.h2Feed(i, w.buf[:n]); err != nil {
		w.h2Fail(i)
	}
}

// h2Fail closes leader i's connection and ends every subscriber on it.
func (w *worker) h2Fail(i int) {
	g := &w.h2[i/w.group()]
	if g.dead {
		return
	}
	g.dead = true
	unix.Close(int(w.conns[i].fd))
	if !g.resolved {
		g.resolved = true
		w.inflight--
	}
	from, end := w.h2Members(i)
	for j := from; j < end; j++ {
		w.h2Close(j)
	}
}
