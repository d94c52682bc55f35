package engine

import (
	"net/netip"
	"time"

	"github.com/pushwire/pushwire/engine/connbuf"
	"github.com/pushwire/pushwire/engine/listen"
	"github.com/pushwire/pushwire/engine/slab"
	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/engine/taskq"
	"github.com/pushwire/pushwire/engine/tlsconn"
	"github.com/pushwire/pushwire/tlslayer"

	"golang.org/x/sys/unix"
)

const eventsPerWait = 1024

// Event data tags. A connection's epoll_event carries its slot index as its tag and its
// generation (sys.Poller); the loop's own descriptors use negative tags.
const (
	tagWake     = -1 // the loop's eventfd
	tagListener = -2 // tagListener - i: the loop's listener i
)

const (
	connEvents = unix.EPOLLIN | unix.EPOLLRDHUP
	errEvents  = unix.EPOLLERR | unix.EPOLLHUP
)

// Loop is one event loop: an epoll instance, its connections, and the goroutine that runs
// them. Its methods may be called only from Handler callbacks running on it.
type Loop struct {
	idx  int
	eng  *Engine
	h    Handler
	cfg  *Config
	p    sys.Poller
	q    taskq.Queue[Task]
	slab slab.Table
	in   connbuf.InPool
	out  connbuf.OutPool
	tls  tlsconn.Table
	hs   handshakeBurst                                           // tls.go
	lst  listen.Loop                                              // the listening sockets this loop accepts on
	take func(fd, tag int, srv *tlslayer.Server, peer netip.Addr) // l.place, bound once

	events       []unix.EpollEvent
	rbuf         []byte
	dirty        []int32          // slots to flush at the end of this iteration
	deferred     []Releaser       // released after this iteration's flush
	tasks        []Task           // spare task slice, swapped with the queue's
	accepted     []taskq.Accepted // spare accepted-socket slice
	lingering    []lingerer       // conns draining input before their close (linger.go)
	resumes      []resumeReq      // conns whose carry OnData gets again before the flush (backpressure.go)
	spareResumes []resumeReq
	feeding      int32 // slot whose OnData is running; -1 outside OnData

	lateWrites int64 // flushes that found output on an exported conn (handoff.go)

	highWater     int // pending bytes over which reading a conn pauses: WriteBufferLimit/2
	lowWater      int // pending bytes under which a paused conn is read again: WriteBufferLimit/4
	ownWriteLimit int // pending bytes a conn's own OnData may queue on it
	nextLoop      int // single-acceptor mode: the loop the next accepted conn goes to

	now      time.Time
	nextTick time.Time

	stats loopStats
}

func newLoop(e *Engine, idx int) (*Loop, error) {
	p, err := sys.OpenPoller(tagWake)
	if err != nil {
		return nil, err
	}
	l := &Loop{
		idx:    idx,
		eng:    e,
		h:      e.h,
		cfg:    &e.cfg,
		p:      p,
		slab:   slab.New(maxSlots),
		events: make([]unix.EpollEvent, eventsPerWait),
		rbuf:   make([]byte, e.cfg.ReadBufferBytes),

		feeding:       -1,
		highWater:     e.cfg.WriteBufferLimit / 2,
		lowWater:      e.cfg.WriteBufferLimit / 4,
		ownWriteLimit: min(ownWriteFactor*e.cfg.WriteBufferLimit, maxPendingBytes),
	}
	l.out = connbuf.NewOutPool()
	l.q = taskq.New[Task](&l.p)
	l.lst = listen.NewLoop(&e.listeners, &l.p, tagListener, e.log, idx)
	l.take = l.place
	return l, nil
}

// Index returns the loop's index, the value Handle.Loop gives for its connections.
func (l *Loop) Index() int { return l.idx }

// Engine returns the engine the loop belongs to.
func (l *Loop) Engine() *Engine { return l.eng }

// Now returns the time cached at the start of the current loop iteration.
func (l *Loop) Now() time.Time { return l.now }

// Defer arranges for r.Release to run after this iteration's flush, when no queued WriteRef
// still refers to the bytes r owns.
func (l *Loop) Defer(r Releaser) { l.deferred = append(l.deferred, r) }

// run is the loop goroutine: wait, dispatch events, run handed-over tasks, tick, present
// resumed carries, flush dirty connections, release deferred frames; until Stop.
func (l *Loop) run() {
	defer l.eng.wg.Done()
	l.now = time.Now()
	l.nextTick = l.now.Add(l.cfg.TickInterval)
	for {
		n, err := l.p.Wait(l.events, l.timeout())
		if err != nil {
			l.eng.log.Error("engine: loop stopped", "loop", l.idx, "err", err)
			l.shutdown(err)
			return
		}
		l.now = time.Now()
		for i := 0; i < n; i++ {
			l.dispatch(&l.events[i])
		}
		l.runTasks()
		if l.eng.stopping.Load() {
			l.shutdown(ErrEngineStopped)
			return
		}
		if r := l.lst.ResumeAt(); !r.IsZero() && !l.now.Before(r) {
			l.lst.Resume()
		}
		if !l.now.Before(l.nextTick) {
			l.tick()
		}
		if len(l.resumes) > 0 {
			l.runResumes()
		}
		l.flush()
		l.release()
	}
}

// timeout returns the epoll_wait timeout in milliseconds: 0 when work, a resume or output to
// flush is queued, else the time to the next tick or to the end of an accept backoff.
// Output is queued here only by adoption (an upgrade's conns come with the frames their old
// process queued while it quiesced; every iteration ends with a flush): the first wait of a
// new process must not sit on them. When it did (it waited up to the 100ms tick whenever no
// other event came, which a publisher waiting for its answer in those bytes never sent), the
// upgrade's longest delivery gap was the pause + ~100ms in two runs of three.
func (l *Loop) timeout() int {
	if len(l.resumes) > 0 || len(l.dirty) > 0 {
		return 0
	}
	if !l.q.Sleep() {
		return 0
	}
	next := l.nextTick
	if r := l.lst.ResumeAt(); !r.IsZero() && r.Before(next) {
		next = r
	}
	now := time.Now()
	d := next.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *Loop) dispatch(ev *unix.EpollEvent) {
	switch {
	case ev.Fd == tagWake:
		l.p.Reset() // the queue itself is drained every iteration
	case ev.Fd <= tagListener:
		l.stats.acceptErrors.Add(int64(l.lst.Accept(int(tagListener-ev.Fd), ev.Events, l.now, l.take)))
	default:
		l.connEvent(ev.Fd, uint32(ev.Pad), ev.Events)
	}
}

func (l *Loop) tick() {
	if len(l.lingering) > 0 {
		l.expireLingerers()
	}
	l.in.Trim()
	if (l.tls.Warm() > 0 || l.hs.burst > 0) && !l.now.Before(l.hs.nextCool) {
		l.coolTLS()
	}
	l.out.Trim()
	l.h.OnTick(l, l.now)
	l.nextTick = l.nextTick.Add(l.cfg.TickInterval)
	if !l.nextTick.After(l.now) {
		l.nextTick = l.now.Add(l.cfg.TickInterval)
	}
}

// runTasks runs the work handed over since the last iteration. The drained slices become the
// next spares, so the hand-over allocates nothing in steady state.
func (l *Loop) runTasks() {
	tasks, hs := l.q.Swap(l.tasks, l.accepted)
	for _, a := range hs {
		l.open(a.FD, a.Tag, a.TLS, a.Peer)
	}
	for i := range tasks {
		l.h.OnTask(l, tasks[i])
	}
	clear(tasks) // drop references held in Task.V
	clear(hs)
	l.tasks, l.accepted = tasks[:0], hs[:0]
}

// release runs the deferred Releasers.
func (l *Loop) release() {
	for i, r := range l.deferred {
		r.Release()
		l.deferred[i] = nil
	}
	l.deferred = l.deferred[:0]
}

// shutdown ends the loop: queued tasks run, every connection closes with err, the
// listeners and the poller close.
func (l *Loop) shutdown(err error) {
	tasks, hs := l.q.Close()
	for _, a := range hs {
		unix.Close(a.FD)
	}
	for i := range tasks {
		l.h.OnTask(l, tasks[i])
	}
	for i := range l.slab.Len() {
		if l.slab.At(i).Flags&flagOpen != 0 {
			l.closeConn(i, err)
		}
	}
	l.lst.Close()
	l.release()
	l.tls.Release()
	l.p.Close()
}

// place opens a socket a listener of this loop accepted: here with SO_REUSEPORT, else on the
// loops in turn (the one acceptor spreads them).
func (l *Loop) place(fd, tag int, srv *tlslayer.Server, peer netip.Addr) {
	if l.eng.reusePort {
		l.open(fd, tag, srv, peer)
		return
	}
	target := l.eng.loops[l.nextLoop]
	if l.nextLoop++; l.nextLoop == len(l.eng.loops) {
		l.nextLoop = 0
	}
	if target == l {
		l.open(fd, tag, srv, peer)
	} else if !target.q.PushAccepted(taskq.Accepted{FD: fd, Tag: tag, TLS: srv, Peer: peer}) {
		unix.Close(fd)
	}
}

// open sets up an accepted socket, registers it and hands it to OnOpen. srv is the TLS server
// of the listener it came from, nil for plaintext.
func (l *Loop) open(fd, tag int, srv *tlslayer.Server, peer netip.Addr) {
	l.stats.accepted.Add(1)
	if err := sys.SetupConn(fd, l.cfg.SendBufferBytes, int(l.cfg.UserTimeout/time.Millisecond)); err != nil {
		unix.Close(fd) // the peer is already gone (setsockopt on a reset socket)
		return
	}
	i := l.slab.Alloc(fd)
	if i < 0 {
		l.stats.acceptErrors.Add(1)
		unix.Close(fd)
		return
	}
	c := l.slab.At(i)
	gen := c.Gen
	if srv != nil {
		c.TLS = l.tls.Get(srv)
		l.tls.At(c.TLS).Born = l.now.UnixNano()
	}
	if err := l.p.Add(fd, connEvents, i, int32(gen)); err != nil {
		l.freeTLS(c)
		l.slab.Release(i)
		unix.Close(fd)
		return
	}
	c.Flags |= flagRegIn
	l.stats.open.Add(1)
	h := makeHandle(l.idx, i, gen)
	if l.h.OnOpen(l, h, tag, peer) {
		return
	}
	if c, _ := l.slab.Lookup(int32(h.Slot()), h.gen()); c != nil {
		l.stats.open.Add(-1)
		l.freeConn(i)
	}
}
