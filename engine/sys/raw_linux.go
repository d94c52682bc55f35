package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The engine loop's hot syscalls are issued with RawSyscall, which does not tell the
// Go scheduler a syscall is under way. Every socket here is non-blocking, so
// read, write and writev return at once (EAGAIN at worst) and the scheduler
// has nothing to hand off. Through the ordinary Syscall path, a loop busy
// writing to thousands of sockets is seen by sysmon "in a syscall" over and
// over; sysmon then wakes every 20 µs, retakes the P and hands it to another
// thread. With the server on one core that churn cost 7% of its CPU in
// context switches (perf, pushbench unicast --batch 100, 15,000 conns).

// Read is read(2) on a non-blocking fd.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Write is write(2) on a non-blocking fd.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Writev is writev(2) on a non-blocking fd.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
