package sys

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller wraps one epoll instance and the eventfd that wakes it. Each registered descriptor's
// epoll_event carries two int32s the caller chooses, a tag (in Fd) and a generation (in Pad),
// and no Go pointer; the eventfd's tag is given to OpenPoller. Trigger may be called from any
// goroutine while the Poller is open: the caller makes sure none runs once Close has begun
// (engine/taskq's Queue writes the eventfd under its lock, and marks itself closed first).
//
// The loop never blocks in epoll_wait. An epoll fd is itself pollable, so it is handed to
// Go's netpoller (file, raw): wait looks for ready events without blocking and, when there
// are none, parks the goroutine until the epoll fd turns readable or the tick is due. A
// goroutine blocked in a syscall instead makes sysmon retake its P and start another
// thread, again and again under load: with two nodes on one core (pushbench cluster) that
// churn was 18–23% of each node's CPU in sysmon's usleep and futex wake-ups.
type Poller struct {
	epfd int
	efd  int
	file *os.File        // owns epfd; registered with the netpoller
	raw  syscall.RawConn // file's, for parking on readability
	wake [8]byte         // eventfd increment: 1 in host order

	// onReadable is raw.Read's callback, bound once (a closure per wait would allocate);
	// it leaves its result in ready and readErr, for the events slice in waitingFor.
	onReadable func(uintptr) bool
	waitingFor []unix.EpollEvent
	ready      int
	readErr    error
	drain      [8]byte // eventfd read target
}

// OpenPoller makes the epoll instance and its eventfd, registered under wakeTag. The Poller is
// set up by value; Wait binds its callback on first use, so it must not be copied after that.
func OpenPoller(wakeTag int32) (Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return Poller{}, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return Poller{}, os.NewSyscallError("eventfd", err)
	}
	p := Poller{epfd: epfd, efd: efd}
	p.wake[0] = 1 // little-endian hosts (amd64, arm64)
	// Non-blocking, so os.NewFile registers it with the netpoller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return Poller{}, os.NewSyscallError("fcntl", err)
	}
	p.file = os.NewFile(uintptr(epfd), "epoll")
	raw, err := p.file.SyscallConn()
	if err != nil {
		p.Close()
		return Poller{}, err
	}
	p.raw = raw
	if err := p.Add(efd, unix.EPOLLIN, wakeTag, 0); err != nil {
		p.Close()
		return Poller{}, err
	}
	return p, nil
}

// Close closes the eventfd and the epoll instance.
func (p *Poller) Close() {
	unix.Close(p.efd)
	p.file.Close() // closes epfd
}

func (p *Poller) ctl(op, fd int, events uint32, tag, gen int32) error {
	ev := unix.EpollEvent{Events: events, Fd: tag, Pad: gen}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Add registers fd for events, tagged with tag and gen.
func (p *Poller) Add(fd int, events uint32, tag, gen int32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, events, tag, gen)
}

// Mod changes fd's events (and its tag and gen).
func (p *Poller) Mod(fd int, events uint32, tag, gen int32) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, events, tag, gen)
}

// Del unregisters fd.
func (p *Poller) Del(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Wait returns the ready events, waiting for up to msec milliseconds (-1 = until there are
// some). It looks without blocking first; then it parks on the netpoller (see Poller).
// EINTR is reported as zero events.
func (p *Poller) Wait(events []unix.EpollEvent, msec int) (int, error) {
	n, errno := p.peek(events)
	if n > 0 || msec == 0 {
		return n, errno
	}
	deadline := time.Time{}
	if msec > 0 {
		deadline = time.Now().Add(time.Duration(msec) * time.Millisecond)
	}
	if err := p.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	if p.onReadable == nil { // bound here, where p no longer moves (it is copied while set up)
		p.onReadable = p.readable
	}
	p.waitingFor = events
	err := p.raw.Read(p.onReadable)
	p.waitingFor = nil
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return p.ready, p.readErr
}

// readable is onReadable: it reports whether the wait is over.
func (p *Poller) readable(uintptr) bool {
	p.ready, p.readErr = p.peek(p.waitingFor)
	return p.ready > 0 || p.readErr != nil
}

// peek is a non-blocking epoll_wait through RawSyscall.
func (p *Poller) peek(events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR:
		return 0, nil
	}
	return 0, os.NewSyscallError("epoll_wait", errno)
}

// Trigger wakes the goroutine blocked in Wait: the eventfd's event comes back with wakeTag.
// Callers coalesce (engine/taskq's Queue writes it only when the loop may be asleep).
func (p *Poller) Trigger() {
	// EAGAIN means the counter is saturated: the loop is being woken anyway.
	Write(p.efd, p.wake[:])
}

// Reset clears the eventfd counter after it fired.
func (p *Poller) Reset() {
	Read(p.efd, p.drain[:])
}
