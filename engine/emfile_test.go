package engine

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptEMFILEBacksOff lowers the process's open-files limit so that accept4 fails with
// EMFILE while connections wait in the backlog: the loop must count the errors, back off
// instead of spinning on the ready listener, and accept the waiting connections once
// descriptors are available again. Not parallel: the limit is process-wide.
func TestAcceptEMFILEBacksOff(t *testing.T) {
	const n = 8
	e, addr := startEngine(t, Config{Loops: 1, TickInterval: 10 * time.Millisecond}, &funcHandler{})
	ap := netip.MustParseAddrPort(addr)
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	fds := make([]int, n)
	for i := range fds { // client sockets made while descriptors are still available
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
		defer unix.Close(fd)
	}
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	low := saved
	low.Cur = uint64(len(open) + 2) // room for two accepted conns
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			unix.Setrlimit(unix.RLIMIT_NOFILE, &saved)
			restored = true
		}
	}
	defer restore()
	for _, fd := range fds {
		if err := unix.Connect(fd, sa); err != nil { // completes from the backlog
			restore()
			t.Fatal(err)
		}
	}
	waitFor(t, "EMFILE on accept", 5*time.Second, func() bool { return e.Stats().AcceptErrors > 0 })
	cpu0 := processCPU()
	time.Sleep(300 * time.Millisecond)
	cpu := processCPU() - cpu0
	s := e.Stats()
	restore()
	t.Logf("while out of descriptors for 300ms: %v CPU, %d accept errors, %d open", cpu, s.AcceptErrors, s.Open)
	if cpu > 100*time.Millisecond {
		t.Errorf("process used %v CPU in 300ms while accept failed with EMFILE; want a back-off, not a spin", cpu)
	}
	if s.AcceptErrors > 20 { // one try per 100ms back-off, some slack
		t.Errorf("AcceptErrors = %d in ~300ms; want a few (one per back-off)", s.AcceptErrors)
	}
	waitFor(t, "waiting conns accepted after the limit is back", 5*time.Second, func() bool { return e.Stats().Open == n })
}
