// Package engine is pushwire's network reactor: one epoll event loop per core on
// golang.org/x/sys/unix, level-triggered, with connections named by Handles into a
// pointer-free per-loop table. No goroutine per connection; an idle connection owns no
// buffers (one read buffer per loop, an inbound carry and an outbound queue only while bytes
// are pending).
//
// Handler callbacks run on the connection's loop goroutine and must not block. Loop methods
// may be called only from those callbacks, on that loop. Engine methods may be called from any
// goroutine, except that Stop must not be called from a Handler callback (it waits for the
// loops to end).
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/engine/listen"
	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// Handler receives a connection's events. Every method runs on the connection's loop.
type Handler interface {
	// OnOpen runs on the conn's loop right after accept. listener is the tag given to Listen.
	// Returning false closes the conn at once (OnClose is then NOT called).
	OnOpen(l *Loop, h Handle, listener int, peer netip.Addr) bool
	// OnData gets the conn's unconsumed bytes: the carry from earlier calls followed by the new
	// read. It returns how many leading bytes it consumed; the rest is carried (bounded by
	// MaxInboundBytes) and presented again, with bytes it may have modified in place kept as
	// modified. in is valid only during the call.
	OnData(l *Loop, h Handle, in []byte) (consumed int)
	// OnClose runs exactly once for every conn OnOpen accepted; after it h is invalid.
	// err says why: io.EOF (peer closed), ErrSlowConsumer, ErrInboundLimit, a syscall error,
	// ErrEngineStopped, the err given to Loop.Close, or nil after Loop.CloseAfterFlush.
	OnClose(l *Loop, h Handle, err error)
	// OnTask runs on the loop a task was submitted to (Engine.Submit).
	OnTask(l *Loop, t Task)
	// OnTick runs every TickInterval on each loop (timing wheels live on top of it).
	OnTick(l *Loop, now time.Time)
}

// Releaser is recycled by Loop.Defer once the loop iteration's flush is done.
type Releaser interface{ Release() }

// Engine states.
const (
	stateNew = iota
	stateRunning
	stateStopped
)

// Engine owns the loops and the listening sockets.
type Engine struct {
	cfg       Config
	h         Handler
	log       *slog.Logger
	loops     []*Loop
	reusePort bool // a listening socket per loop (SO_REUSEPORT) instead of one acceptor

	mu        sync.Mutex // guards state; never held while calling a Handler; taken before lst's
	state     int
	listeners listen.Set // every listening socket, by id

	stopping  atomic.Bool
	releasing atomic.Bool // releaseMemory's goroutine runs
	wg        sync.WaitGroup
}

// New makes an engine with cfg's defaults filled in. It creates each loop's epoll instance
// and eventfd; Listen and Start follow.
//
// Accepting uses one listening socket per Listen, owned by one loop (listeners are spread over
// the loops) which accepts and hands each socket round-robin to the loops through their task
// queues. Measured against a SO_REUSEPORT socket per loop (BenchmarkAccept, 2 cores, 16 dialling
// goroutines in-process, 20,000 conns, three alternating runs): 19.7–21.7 µs per connection
// against 23.4–25.0 µs, with exact balance (imbalance 1.000 against 1.001–1.016). It also keeps
// the kernel's "address in use" check: with SO_REUSEPORT a second process of the same user could
// bind the same port and silently take half the connections, and a drain closes one socket per
// listener, not one per loop.
func New(cfg Config, h Handler) (*Engine, error) {
	return newEngine(cfg, h, false)
}

func newEngine(cfg Config, h Handler, reusePort bool) (*Engine, error) {
	if h == nil {
		return nil, errors.New("engine: nil Handler")
	}
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, h: h, log: cfg.Logger, reusePort: reusePort}
	for i := 0; i < cfg.Loops; i++ {
		l, err := newLoop(e, i)
		if err != nil {
			for _, l := range e.loops {
				l.p.Close()
			}
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	return e, nil
}

// Listen opens a listening TCP socket on addr (host:port, IPv4 or IPv6; an empty host listens
// on every address, dual-stack) whose connections reach OnOpen with the given listener tag.
// It must be called before Start; ":0" picks a free port. It returns the bound address.
func (e *Engine) Listen(addr string, listener int) (net.Addr, error) {
	return e.listen(addr, listener, nil)
}

// listen opens a listening socket (one per loop with SO_REUSEPORT) whose connections are
// TLS when srv is set.
func (e *Engine) listen(addr string, listener int, srv *tlslayer.Server) (net.Addr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != stateNew {
		return nil, ErrStarted
	}
	n := 1
	if e.reusePort {
		n = len(e.loops)
	}
	fds, bound, err := listen.Open(addr, n, e.reusePort)
	if err != nil {
		return nil, err
	}
	for k, fd := range fds {
		l := e.loops[k] // SO_REUSEPORT: a socket per loop
		if !e.reusePort {
			l = e.loops[e.listeners.Len()%len(e.loops)] // one acceptor: spread the listeners over the loops
		}
		if err := l.lst.Attach(fd, listener, srv); err != nil {
			for _, fd := range fds[k+1:] {
				unix.Close(fd)
			}
			return nil, err
		}
	}
	return bound, nil
}

// Start runs the loops, one goroutine each.
func (e *Engine) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrEngineStopped
	}
	e.state = stateRunning
	for _, l := range e.loops {
		e.wg.Add(1)
		go l.run()
	}
	return nil
}

// StopAccepting closes the listening sockets with the given tags, or every one when none is
// named (for a drain); existing connections stay. When it returns, new connection attempts
// are refused. It does not wait for the loops, so a Handler callback may call it too.
func (e *Engine) StopAccepting(tags ...int) { e.listeners.Stop(tags...) }

// Stop closes every connection (OnClose with ErrEngineStopped) and listener, ends the loops
// and waits for them. Tasks still queued run first. It must not be called from a Handler
// callback.
func (e *Engine) Stop() {
	e.mu.Lock()
	state := e.state
	e.state = stateStopped
	e.mu.Unlock()
	switch state {
	case stateStopped:
		return
	case stateNew:
		for _, l := range e.loops {
			l.q.Close()
			l.lst.Close()
			l.p.Close()
		}
		return
	}
	e.stopping.Store(true)
	for _, l := range e.loops {
		l.q.WakeAlways()
	}
	e.wg.Wait()
}

// Submit hands t to loop's OnTask. Any goroutine may call it; a run of Submits to a sleeping
// loop costs one eventfd write. Tasks submitted after Stop are dropped.
func (e *Engine) Submit(loop int, t Task) { e.loops[loop].q.PushOne(t) }

// SubmitBatch hands a copy of ts to loop's OnTask under one lock, with at most one wake-up.
func (e *Engine) SubmitBatch(loop int, ts []Task) {
	if len(ts) > 0 {
		e.loops[loop].q.Push(ts...)
	}
}

// Loops returns the number of event loops.
func (e *Engine) Loops() int { return len(e.loops) }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	var s Stats
	for _, l := range e.loops {
		l.stats.addTo(&s)
	}
	return s
}

// Capacity returns how many connections this process can hold: the RLIMIT_NOFILE soft limit
// (call RaiseOpenFilesLimit first to raise it to the hard limit).
func (e *Engine) Capacity() int { return sys.OpenFilesLimit() }

// RaiseOpenFilesLimit raises RLIMIT_NOFILE soft to hard and returns the new soft limit.
func RaiseOpenFilesLimit() (uint64, error) { return sys.RaiseOpenFilesLimit() }

// String describes the engine for logs.
func (e *Engine) String() string {
	mode := "one acceptor"
	if e.reusePort {
		mode = "SO_REUSEPORT"
	}
	return fmt.Sprintf("engine(%d loops, %s)", len(e.loops), mode)
}
