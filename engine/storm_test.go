package engine

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Connect storm: a helper process (this test binary re-run as TestStormClient) opens n
// connections to the engine, then sends one small request on each in a burst, so the loops see
// them in full epoll batches; the handler answers every request with a ~400-byte response head and frame
// through two Loop.Writes. The client lives in its own process because 15,000 conns need
// 30,000 descriptors, over the 20,000 one process may open.

const (
	stormHead  = 250 // response head bytes
	stormFrame = 150 // first frame bytes
)

// TestHeapConnectStorm logs the Go heap the engine allocates and keeps while 15,000 conns
// each get one ~400-byte answer in the iteration their request arrives.
func TestHeapConnectStorm(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are meaningless under the race detector")
	}
	if testing.Short() {
		t.Skip("connect storm of 15,000 conns")
	}
	const n = 15000
	head := bytes.Repeat([]byte("h"), stormHead)
	frame := bytes.Repeat([]byte("f"), stormFrame)
	h := &stormHandler{head: head, frame: frame}
	e, addr := startEngine(t, Config{Loops: 2, TickInterval: time.Hour}, h)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStormClient$", "--", addr, strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ok\n" {
		t.Fatalf("storm client said %q, %v; want \"ok\\n\"", line, err)
	}
	waitFor(t, "all conns open", 10*time.Second, func() bool { return e.Stats().Open == n })
	runtime.ReadMemStats(&after)
	churn := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("connect storm of %d conns, one %d-byte answer each: allocated %.0f B/conn (%d B), kept after GC %.0f B/conn (%d B; before idle trims)",
		n, stormHead+stormFrame, float64(churn)/n, churn, float64(kept)/n, kept)
}

type stormHandler struct {
	nopHandler
	head, frame []byte
}

func (s *stormHandler) OnData(l *Loop, h Handle, in []byte) int {
	l.Write(h, s.head)
	l.Write(h, s.frame)
	return len(in)
}

// TestStormClient is the client side of TestHeapConnectStorm, run in a child process: it
// connects n raw blocking sockets, then sends a request on each in one burst, reads every answer, says
// "ok" on stdout and holds the conns until stdin closes.
func TestStormClient(t *testing.T) {
	args := flag.Args()
	if len(args) != 2 {
		t.Skip("helper process of TestHeapConnectStorm")
	}
	ap := netip.MustParseAddrPort(args[0])
	n, _ := strconv.Atoi(args[1])
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	req := []byte("GET /sub HTTP/1.1\r\nHost: x\r\n\r\n")
	fds := make([]int, 0, n)
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	for _, fd := range fds { // every request at once: the loops see them in full epoll batches
		if _, err := unix.Write(fd, req); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, stormHead+stormFrame)
	for _, fd := range fds {
		for got := 0; got < len(buf); {
			k, err := unix.Read(fd, buf[got:])
			if err != nil || k == 0 {
				t.Fatalf("read answer: %d, %v", k, err)
			}
			got += k
		}
	}
	fmt.Println("ok")
	io.Copy(io.Discard, os.Stdin)
	for _, fd := range fds {
		unix.Close(fd)
	}
}
