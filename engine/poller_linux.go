package engine

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event data tags. A connection's epoll_event carries its slot index in Fd and its generation
// in Pad (no Go pointers); the loop's own descriptors use negative Fd values.
const (
	tagWake     = -1 // the loop's eventfd
	tagListener = -2 // tagListener - i: the loop's listener i
)

const (
	connEvents = unix.EPOLLIN | unix.EPOLLRDHUP
	errEvents  = unix.EPOLLERR | unix.EPOLLHUP
)

// poller wraps one epoll instance and the eventfd that wakes it.
type poller struct {
	epfd  int
	efd   int
	wake  [8]byte // eventfd increment: 1 in host order
	drain [8]byte // eventfd read target
}

func openPoller() (poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return poller{}, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return poller{}, os.NewSyscallError("eventfd", err)
	}
	p := poller{epfd: epfd, efd: efd}
	p.wake[0] = 1 // little-endian hosts (amd64, arm64)
	if err := p.add(efd, unix.EPOLLIN, tagWake, 0); err != nil {
		p.close()
		return poller{}, err
	}
	return p, nil
}

func (p *poller) close() {
	unix.Close(p.efd)
	unix.Close(p.epfd)
}

func (p *poller) ctl(op, fd int, events uint32, tag, gen int32) error {
	ev := unix.EpollEvent{Events: events, Fd: tag, Pad: gen}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *poller) add(fd int, events uint32, tag, gen int32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, events, tag, gen)
}

func (p *poller) mod(fd int, events uint32, tag, gen int32) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, events, tag, gen)
}

func (p *poller) del(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// wait blocks for up to msec milliseconds (-1 = forever) and returns the ready events.
// EINTR is reported as zero events.
func (p *poller) wait(events []unix.EpollEvent, msec int) (int, error) {
	if msec != 0 {
		// A busy loop nearly always has events ready. Looking first without
		// blocking, through RawSyscall, skips the scheduler hand-off a
		// blocking syscall costs: under a unicast load (pushbench unicast,
		// server on one core) the blocking wait alone caused ~12k context
		// switches/s of futex and nanosleep churn, 11% of the server's CPU.
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		if errno == 0 && n > 0 {
			return int(n), nil
		}
	}
	n, err := unix.EpollWait(p.epfd, events, msec)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	return n, nil
}

// trigger wakes the loop blocked in wait. Callers coalesce: see taskQueue.
func (p *poller) trigger() {
	// EAGAIN means the counter is saturated: the loop is being woken anyway.
	unix.Write(p.efd, p.wake[:])
}

// reset clears the eventfd counter after it fired.
func (p *poller) reset() {
	unix.Read(p.efd, p.drain[:])
}
