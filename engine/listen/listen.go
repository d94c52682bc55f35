// Package listen holds the engine's listening sockets: the Set of all of them (what
// StopAccepting shuts and the loops close, by id), and each loop's own (Loop): registered in
// that loop's epoll set, accepted from in bursts, paused after EMFILE and the like, and
// detached for a zero-downtime upgrade's new process and reattached if it fails.
//
// It knows nothing of connections: Accept hands each accepted socket to the engine, which
// decides where it goes (this loop or another one) and sets it up. A Loop belongs to one
// event loop and only that loop's goroutine touches it once the engine started (Attach runs
// before); the Set is shared and locks. Only the engine imports it.
package listen

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

const (
	acceptsPerEvent = 64                     // accept4 calls per listener event before serving others
	acceptBackoff   = 100 * time.Millisecond // accept pause after EMFILE/ENFILE/ENOBUFS/ENOMEM
	acceptLogEvery  = time.Second            // at most one accept-error log line per loop per period
)

// Open opens n listening sockets on addr (host:port, IPv4 or IPv6; an empty host listens on
// every address, dual-stack): one without SO_REUSEPORT, or n with it, all bound to the port
// the first got (":0" picks a free one). It returns them and the bound address; on an error
// none stays open.
func Open(addr string, n int, reusePort bool) ([]int, *net.TCPAddr, error) {
	fds := make([]int, 0, n)
	fail := func(err error) ([]int, *net.TCPAddr, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, nil, err
	}
	var bound *net.TCPAddr
	for i := range n {
		a := addr
		if i > 0 { // the first fixed the port
			host, _, _ := net.SplitHostPort(addr)
			a = net.JoinHostPort(host, strconv.Itoa(bound.Port))
		}
		fd, err := sys.Listen(a, reusePort)
		if err != nil {
			return fail(err)
		}
		fds = append(fds, fd)
		if i == 0 {
			if bound, err = sys.BoundAddr(fd); err != nil {
				return fail(err)
			}
		}
	}
	return fds, bound, nil
}

// Adopt readies a listening socket handed over by another process (an upgrade) and returns
// its address.
func Adopt(fd int) (*net.TCPAddr, error) {
	bound, err := sys.BoundAddr(fd)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	return bound, nil
}

// Set is every listening socket of an engine, by id in the order they were attached.
//
// Lock contract: mu guards fds and tags; it is never held while calling out, and it is taken
// after the engine's own lock when both are held. Stop and Close take it so that a shutdown
// never reaches a fd number a loop closed and the kernel reused.
type Set struct {
	mu   sync.Mutex
	fds  []int // -1 once closed
	tags []int // the tag of each listening socket, by the same index
}

// Len returns how many sockets were ever attached (engines spread them over their loops).
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fds)
}

// Stop shuts down the listening sockets with the given tags, or every one when none is
// named: connection attempts are refused from here, and each owning loop sees EPOLLHUP and
// closes its socket (shutdown(SHUT_RD) stops a socket listening while its fd stays open, so
// no goroutine but the loop's ever closes a fd the loop might be using).
func (s *Set) Stop(tags ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, fd := range s.fds {
		if fd >= 0 && (len(tags) == 0 || slices.Contains(tags, s.tags[id])) {
			unix.Shutdown(fd, unix.SHUT_RD)
		}
	}
}

// close closes listening socket id (once).
func (s *Set) close(id int) {
	s.mu.Lock()
	if fd := s.fds[id]; fd >= 0 {
		unix.Close(fd)
		s.fds[id] = -1
	}
	s.mu.Unlock()
}

// Loop is the listening sockets one event loop accepts on.
type Loop struct {
	set  *Set
	p    *sys.Poller
	tag0 int32 // epoll tag of listener 0; listener i is tag0 - i
	log  *slog.Logger
	idx  int // the loop's index, for the log

	ls   []listener
	held []held // taken out by Detach
	acc  sys.Acceptor

	resumeAt time.Time // end of the accept backoff; zero when not backing off
	lastLog  time.Time
	logged   int // accept errors since the last log line
}

// listener is a listening socket a loop accepts on.
type listener struct {
	fd     int
	tag    int
	tls    *tlslayer.Server // nil for a plaintext listener
	id     int              // index into Set.fds
	paused bool             // removed from epoll during an accept backoff
}

// held is a listening socket taken out of its loop by Detach.
type held struct {
	li int // index into Loop.ls
	fd int
}

// NewLoop returns event loop idx's listeners, registered with p under tags tag0, tag0-1, ...
func NewLoop(set *Set, p *sys.Poller, tag0 int32, log *slog.Logger, idx int) Loop {
	return Loop{set: set, p: p, tag0: tag0, log: log, idx: idx}
}

// Attach registers listening socket fd with the loop: its connections are TLS with srv
// (nil for plaintext) and reach the Handler with tag. The engine calls it before the loop
// starts; on an error fd is closed.
func (ll *Loop) Attach(fd, tag int, srv *tlslayer.Server) error {
	li := len(ll.ls)
	if err := ll.p.Add(fd, unix.EPOLLIN, ll.tag0-int32(li), 0); err != nil {
		unix.Close(fd)
		return err
	}
	s := ll.set
	s.mu.Lock()
	id := len(s.fds)
	s.fds = append(s.fds, fd)
	s.tags = append(s.tags, tag)
	s.mu.Unlock()
	ll.ls = append(ll.ls, listener{fd: fd, tag: tag, tls: srv, id: id})
	return nil
}

// Accept takes pending connections from listener li (the epoll event's tag was tag0 - li)
// and gives each to take with the listener's tag and TLS server, up to acceptsPerEvent
// before the loop serves others. It returns how many accepts failed (EAGAIN and
// interruptions aside); a shut down listener is closed, and running out of descriptors or
// memory pauses accepting on every listener of the loop for acceptBackoff (ResumeAt).
func (ll *Loop) Accept(li int, events uint32, now time.Time, take func(fd, tag int, srv *tlslayer.Server, peer netip.Addr)) (failed int) {
	ln := &ll.ls[li]
	if ln.fd < 0 {
		return 0
	}
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		ll.drop(li) // shut down by Set.Stop
		return 0
	}
	for k := 0; k < acceptsPerEvent; k++ {
		fd, peer, err := ll.acc.Accept(ln.fd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			case unix.EINVAL:
				ll.drop(li)
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				ll.logError(err, now)
				ll.pause(now)
				return 1
			default:
				ll.logError(err, now)
				return 1
			}
			return 0
		}
		take(fd, ln.tag, ln.tls, peer)
	}
	return 0
}

func (ll *Loop) drop(li int) {
	ln := &ll.ls[li]
	if !ln.paused {
		ll.p.Del(ln.fd)
	}
	ll.set.close(ln.id)
	ln.fd = -1
}

// pause stops accepting on every listener of the loop for acceptBackoff: out of file
// descriptors or memory, accepting again at once would only spin.
func (ll *Loop) pause(now time.Time) {
	for i := range ll.ls {
		ln := &ll.ls[i]
		if ln.fd >= 0 && !ln.paused {
			ll.p.Del(ln.fd)
			ln.paused = true
		}
	}
	ll.resumeAt = now.Add(acceptBackoff)
}

// ResumeAt returns when accepting resumes after a pause; zero when not paused.
func (ll *Loop) ResumeAt() time.Time { return ll.resumeAt }

// Resume accepts again after a pause (the loop calls it once ResumeAt has passed).
func (ll *Loop) Resume() {
	for i := range ll.ls {
		ln := &ll.ls[i]
		if ln.fd >= 0 && ln.paused {
			ll.p.Add(ln.fd, unix.EPOLLIN, ll.tag0-int32(i), 0)
			ln.paused = false
		}
	}
	ll.resumeAt = time.Time{}
}

// logError logs accept failures at most once per acceptLogEvery.
func (ll *Loop) logError(err error, now time.Time) {
	ll.logged++
	if now.Sub(ll.lastLog) < acceptLogEvery {
		return
	}
	ll.log.Warn("engine: accept failed", "loop", ll.idx, "err", os.NewSyscallError("accept4", err),
		"errors", ll.logged, "backoff", acceptBackoff)
	ll.lastLog = now
	ll.logged = 0
}

// Detach stops accepting on the loop's listeners (new connections wait in the kernel's
// accept queue) and calls fn with each socket, its tag and whether it is TLS.
func (ll *Loop) Detach(fn func(fd, tag int, tls bool)) {
	for li := range ll.ls {
		ln := &ll.ls[li]
		if ln.fd < 0 {
			continue
		}
		if !ln.paused {
			ll.p.Del(ln.fd)
		}
		ll.held = append(ll.held, held{li: li, fd: ln.fd})
		fn(ln.fd, ln.tag, ln.tls != nil)
		ln.fd, ln.paused = -1, false
	}
}

// Reattach accepts again on the listeners Detach took.
func (ll *Loop) Reattach() {
	for _, h := range ll.held {
		ln := &ll.ls[h.li]
		ln.fd = h.fd
		if !ll.resumeAt.IsZero() {
			ln.paused = true // Resume adds it back
			continue
		}
		ll.p.Add(ln.fd, unix.EPOLLIN, ll.tag0-int32(h.li), 0)
	}
	ll.held = ll.held[:0]
}

// Close closes every socket the loop listened on (the engine stops).
func (ll *Loop) Close() {
	for _, ln := range ll.ls {
		ll.set.close(ln.id)
	}
}
