package perf

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The floor's hot syscalls go through RawSyscall, as pushwire's engine does
// (engine/sys/raw_linux.go says why: through Syscall, sysmon keeps retaking the P of a
// loop busy writing to thousands of sockets). A floor paying that churn where pushwire
// does not would not be a floor. Every socket is non-blocking, so these return at once.

func floorRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func floorWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// floorWait returns ready events: first a non-blocking epoll_wait through RawSyscall
// (under load something is always ready), and only when nothing is, a blocking one
// through the ordinary path, which lets the scheduler run other goroutines meanwhile.
func floorWait(ep int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno == 0 && n > 0 {
		return int(n), nil
	}
	for {
		n, err := unix.EpollWait(ep, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("epoll_wait", err)
		}
		return n, nil
	}
}

// floorAccept is accept4(2) without the peer's address, which unix.Accept4 would
// allocate for every connection: garbage that, with a heap too small to start a GC,
// stays in the RSS an idle subscriber is charged.
func floorAccept(ln int) (int, error) {
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(ln), 0, 0,
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// floorAdd registers fd for reads and hang-ups, without the event escaping to the heap.
func floorAdd(ep, fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(ep), unix.EPOLL_CTL_ADD, uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
