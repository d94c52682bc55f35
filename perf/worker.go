package perf

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// One worker holds up to ~15,000 subscriber sockets in a single epoll loop on one
// goroutine: no goroutine or buffer per connection, one 64 KiB read buffer for all, so the
// load side costs a fraction of the server it measures.

const (
	connIdle uint8 = iota
	connConnecting
	connHeadWait
	connOpen
	connClosed
)

type wconn struct {
	fd    int32
	state uint8
	// With Reconnect (reconnect.go): re marks a reopening in progress or waiting, edge the
	// edge dialed (0: Target.Edge), lost the one whose stream ended, tries the reopenings
	// tried since, cursor and retryMs what the ended stream's SSE said.
	re      bool
	edge    uint8
	lost    uint8
	tries   uint8
	retryMs uint32
	cursor  uint64
	st      Stream
}

type worker struct {
	ep, evfd int
	cfg      WorkerConfig
	conns    []wconn
	next     int // next conn to start connecting
	inflight int
	started  int64 // monotonic ns of the connect command
	req      []byte
	buf      []byte
	now      int64 // receipt time of the bytes being parsed
	stats    WorkerStats
	lat      *Latency
	seqs     int
	connDone bool
	tlsCfg   *tls.Config // Target.TLS: the bridges' client config (one session cache)
	h2       []h2group   // HTTP/2 connections, one per group of subscribers (h2worker.go)
	path     []byte
	redials  redialHeap // streams waiting to reopen (reconnect.go)

	cmds    chan wireMsg
	wakeMu  sync.Mutex // guards evfd against close while readCommands writes to it
	stopped bool       // wakeMu must be held
	out     *bufio.Writer
	enc     *json.Encoder
}

// Serve runs a worker: commands from in, replies and events to out, until quit or in ends.
func Serve(in io.Reader, out io.Writer) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	defer unix.Close(ep)
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(evfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	w := &worker{ep: ep, evfd: evfd, buf: make([]byte, 64<<10), lat: NewLatency(),
		cmds: make(chan wireMsg, 16)}
	w.out = bufio.NewWriter(out)
	w.enc = json.NewEncoder(w.out)
	go w.readCommands(in)
	err = w.loop()
	// The reader may still want to wake the loop; closing evfd under wakeMu with the flag set
	// keeps it from writing to a number that could by then name another file.
	w.wakeMu.Lock()
	w.stopped = true
	unix.Close(evfd)
	w.wakeMu.Unlock()
	return err
}

// wake makes the loop's epoll_wait return, unless the loop has ended.
func (w *worker) wake() {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	w.wakeMu.Lock()
	if !w.stopped {
		_, _ = unix.Write(w.evfd, one) // EAGAIN only when the counter is saturated: still awake
	}
	w.wakeMu.Unlock()
}

// readCommands decodes command lines and wakes the loop through the eventfd, so the loop
// sleeps in epoll_wait without polling a channel.
func (w *worker) readCommands(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m wireMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = wireMsg{Op: "bad", Err: err.Error()}
		}
		w.cmds <- m
		w.wake()
	}
	w.cmds <- wireMsg{Op: opQuit}
	w.wake()
}

func (w *worker) loop() error {
	events := make([]unix.EpollEvent, 512)
	for {
		n, err := unix.EpollWait(w.ep, events, w.pollTimeout())
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return os.NewSyscallError("epoll_wait", err)
		}
		for i := range events[:n] {
			e := &events[i]
			if e.Fd < 0 {
				if quit := w.commands(); quit {
					return nil
				}
				continue
			}
			w.event(int(e.Fd), e.Events)
		}
		w.startConnects()
		w.redialDue()
	}
}

// commands handles every queued command; it reports true on quit.
func (w *worker) commands() bool {
	var cnt [8]byte
	_, _ = unix.Read(w.evfd, cnt[:])
	for {
		select {
		case m := <-w.cmds:
			if w.command(m) {
				return true
			}
		default:
			return false
		}
	}
}

func (w *worker) command(m wireMsg) bool {
	switch m.Op {
	case opConnect:
		if m.Cfg == nil || w.conns != nil {
			w.reply(wireMsg{Op: opConnect, Err: "perf: bad or repeated connect"})
			return false
		}
		w.cfg = *m.Cfg
		w.cfg.Concurrency = max(w.cfg.Concurrency, 1)
		w.conns = make([]wconn, w.cfg.To-w.cfg.From)
		if w.cfg.Target.H2Streams > 0 {
			w.h2 = make([]h2group, (len(w.conns)+w.group()-1)/w.group())
		}
		w.started = MonoNow()
		w.connectStep()
	case opReset:
		w.stats.Received, w.stats.Foreign, w.stats.Control = 0, 0, 0
		w.stats.FirstRecv, w.stats.LastRecv = 0, 0
		w.lat.Reset()
		w.seqs = m.Seqs
		w.stats.SeqCount = make([]int32, m.Seqs)
		w.stats.SeqFirst = make([]int64, m.Seqs)
		w.stats.SeqLast = make([]int64, m.Seqs)
		w.reply(wireMsg{Op: opReset})
	case opStats:
		s := w.stats
		s.SeqCount, s.SeqFirst, s.SeqLast = nil, nil, nil
		w.reply(wireMsg{Op: opStats, Stats: &s})
	case opReport:
		s := w.stats
		l := w.lat.wire()
		s.Latency = &l
		w.reply(wireMsg{Op: opReport, Stats: &s})
	case opQuit:
		for i := range w.conns {
			if w.h2 != nil {
				if g := &w.h2[i/w.group()]; i%w.group() == 0 && w.conns[i].fd > 0 && !g.dead {
					unix.Close(int(w.conns[i].fd))
				}
				continue
			}
			if c := &w.conns[i]; c.state != connIdle && c.state != connClosed {
				unix.Close(int(c.fd))
			}
		}
		w.reply(wireMsg{Op: opQuit})
		return true
	default:
		w.reply(wireMsg{Op: m.Op, Err: "perf: unknown worker command " + m.Op + " " + m.Err})
	}
	return false
}

func (w *worker) reply(m wireMsg) {
	_ = w.enc.Encode(m) // a parent that went away ends the worker through stdin EOF
	_ = w.out.Flush()
}

// startConnects keeps Concurrency connects in flight until every subscriber was tried.
func (w *worker) startConnects() {
	if w.conns != nil && !w.connDone {
		w.connectStep()
	}
}

func (w *worker) connectStep() {
	for w.inflight < w.cfg.Concurrency && w.next < len(w.conns) {
		i := w.next
		w.next += w.group() // HTTP/2: only a group's leader dials
		if err := w.dial(i); err != nil {
			from, end := w.h2Members(i)
			for j := from; j < end; j++ {
				w.conns[j].state = connClosed
				w.stats.Failed++
			}
			if w.h2 != nil {
				w.h2[i/w.group()].dead = true
			}
			continue
		}
		w.inflight++
	}
	w.checkConnected()
}

func (w *worker) dial(i int) error {
	c := &w.conns[i]
	c.st = Stream{Format: w.cfg.Target.Format, Centrifugo: w.cfg.Target.Kind == KindCentrifugo}
	var fd int
	if w.cfg.Target.TLS {
		if w.tlsCfg == nil {
			w.tlsCfg = tlsBridgeConfig(len(w.conns), w.cfg.Target.H2Streams > 0)
		}
		var err error
		if fd, err = dialTLSBridge(w.cfg.Target.Edge, w.cfg.SourceIP, w.tlsCfg); err != nil {
			return err
		}
	} else {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
			return os.NewSyscallError("socket", err)
		}
		if err := w.connect(fd, w.edgeAddr(c.edge)); err != nil {
			unix.Close(fd)
			return err
		}
	}
	c.fd = int32(fd)
	c.state = connConnecting
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (w *worker) connect(fd int, edge string) error {
	if w.cfg.SourceIP != "" {
		// Without IP_BIND_ADDRESS_NO_PORT, bind picks a port for every destination at once
		// and the source address runs out of ports at ~28k sockets in total.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		src, err := netip.ParseAddr(w.cfg.SourceIP)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			return os.NewSyscallError("bind", err)
		}
	}
	ap, err := netip.ParseAddrPort(edge)
	if err != nil {
		return err
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())})
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return os.NewSyscallError("connect", err)
	}
	return nil
}

func (w *worker) id(i int) string {
	if w.cfg.Shared {
		return w.cfg.Prefix
	}
	return w.cfg.Prefix + strconv.Itoa(w.cfg.From+i)
}

func (w *worker) event(i int, events uint32) {
	c := &w.conns[i]
	if w.h2 != nil {
		w.h2Event(i, events)
		return
	}
	switch c.state {
	case connConnecting:
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if soErr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
			w.fail(i)
			return
		}
		if w.cfg.Topic != "" || w.cfg.Reconnect != nil {
			w.req = w.appendClusterSubscribe(w.req[:0], i)
		} else {
			w.req = w.cfg.Target.AppendSubscribe(w.req[:0], w.id(i), w.cfg.Shared)
		}
		// A request this small always fits an empty socket buffer.
		if n, err := unix.Write(int(c.fd), w.req); err != nil || n != len(w.req) {
			w.fail(i)
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_MOD, int(c.fd), &ev); err != nil {
			w.fail(i)
			return
		}
		c.state = connHeadWait
	case connHeadWait, connOpen:
		w.read(i)
	}
}

func (w *worker) read(i int) {
	c := &w.conns[i]
	n, err := unix.Read(int(c.fd), w.buf)
	if err != nil && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) {
		return
	}
	if err != nil || n == 0 {
		w.fail(i)
		return
	}
	w.now = MonoNow()
	err = c.st.Feed(w.buf[:n], w)
	if c.state == connHeadWait && c.st.HeadDone() {
		if c.st.Status != 200 {
			w.fail(i)
			return
		}
		if !c.st.Live() {
			if err != nil {
				w.fail(i)
			}
			return
		}
		c.state = connOpen
		if c.re {
			w.resubscribed(i)
		} else {
			w.inflight--
			w.stats.Connected++
			w.checkConnected()
		}
	}
	if err != nil {
		w.fail(i)
	}
}

// fail closes conn i and counts it: as a failed connect before its head, as closed after.
// With Reconnect, a stream that was open, or a reopening that failed, waits to reopen.
func (w *worker) fail(i int) {
	c := &w.conns[i]
	unix.Close(int(c.fd))
	was := c.state
	switch {
	case was == connOpen:
		w.stats.Closed++
	case c.re:
		// a reopening that failed: not part of the first connect
	case was == connConnecting, was == connHeadWait:
		w.inflight--
		w.stats.Failed++
	}
	c.state = connClosed
	if w.cfg.Reconnect != nil && (was == connOpen || c.re) {
		w.scheduleRedial(i, was == connOpen)
	}
	c.st = Stream{}
	w.checkConnected()
}

func (w *worker) checkConnected() {
	if w.connDone || w.conns == nil || w.stats.Connected+w.stats.Failed < len(w.conns) {
		return
	}
	w.connDone = true
	w.stats.ConnectNanos = MonoNow() - w.started
	m := wireMsg{Op: opConnect, Stats: &WorkerStats{Connected: w.stats.Connected,
		Failed: w.stats.Failed, ConnectNanos: w.stats.ConnectNanos}}
	if w.cfg.WantKeys {
		m.Keys = make([]string, len(w.conns))
		for i := range w.conns {
			m.Keys[i] = w.conns[i].st.Key
		}
	}
	w.reply(m)
}

// Frame implements Sink for every subscriber of the worker: w.now is the receipt time of
// the read being parsed.
func (w *worker) Frame(message bool, data []byte) {
	if !message {
		w.stats.Control++
		return
	}
	seq, mono, ok := ParseStamp(data)
	if !ok {
		w.stats.Foreign++
		return
	}
	w.stats.Received++
	if w.stats.FirstRecv == 0 {
		w.stats.FirstRecv = w.now
	}
	w.stats.LastRecv = w.now
	w.lat.RecordNanos(w.now - mono)
	if seq < uint64(w.seqs) {
		s := &w.stats
		if s.SeqCount[seq] == 0 {
			s.SeqFirst[seq] = w.now
		}
		s.SeqCount[seq]++
		s.SeqLast[seq] = w.now
		if int(s.SeqCount[seq]) == s.Connected-s.Closed+s.Resubscribed {
			w.reply(wireMsg{Op: opSeqDone, Seq: int(seq)})
		}
	}
}
