package engine

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkFanOut pushes one 64-byte frame from a non-loop goroutine to N conns per op (the
// frame's bytes shared by reference) and waits until every loop has flushed it. The clients
// are raw sockets in this process drained by one epoll goroutine (drainer), so that the client
// side costs little next to the server; still, client and server share the 2 cores, so the
// figures are ratios for this machine. ns/msg and allocs/msg are per delivered message.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { benchFanOut(b, n, false) })
	}
}

// BenchmarkFanOutTLS is BenchmarkFanOut over TLS 1.3 (AES-128-GCM): the shared frame is
// sealed once per conn at the flush. The clients handshake with crypto/tls, then their
// sockets are drained raw (ciphertext, 22 bytes more per record).
func BenchmarkFanOutTLS(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { benchFanOut(b, n, true) })
	}
}

func benchFanOut(b *testing.B, n int, overTLS bool) {
	f := newFanHandler(runtime.GOMAXPROCS(0))
	var e *Engine
	var fds []int
	perRecord := 0
	if overTLS {
		var addr string
		e, addr = startTLSEngine(b, Config{}, f)
		fds = tlsDialFDs(b, addr, n)
		waitFor(b, "all handshakes", 60*time.Second, func() bool { return e.Stats().TLSHandshakes == int64(n) })
		perRecord = 5 + 1 + 16
	} else {
		var addr string
		e, addr = startEngine(b, Config{}, f)
		fds = rawDial(b, netip.MustParseAddrPort(addr), n)
	}
	waitFor(b, "all conns open", 20*time.Second, func() bool { return e.Stats().Open == int64(n) })
	d := startDrainer(b, fds)
	fr := &frame{b: bytes.Repeat([]byte("0123456789abcdef"), 4), done: make(chan struct{}, 1)}
	for range 10 {
		fr.send(e) // warm the pools
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPU()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		fr.send(e)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&ms1)
	msgs := float64(b.N) * float64(n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric(float64(cpu.Nanoseconds())/msgs, "cpu-ns/msg") // server + drainer, user + system
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
	want := int64(b.N+10) * int64(n) * int64(len(fr.b)+perRecord)
	// over TLS the clients may leave session tickets unread in their sockets: at least want
	waitFor(b, "clients to drain", 30*time.Second, func() bool {
		return d.received.Load() == want || overTLS && d.received.Load() >= want
	})
	d.stop()
	if s := e.Stats(); s.Closed != 0 {
		b.Fatalf("conns closed during the benchmark: %+v", s)
	}
}

// processCPU returns the user + system CPU time this process has used.
func processCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(unix.TimevalToNsec(ru.Utime) + unix.TimevalToNsec(ru.Stime))
}

// drainer reads and discards everything arriving on a set of client sockets, with one
// goroutine and one epoll instance.
type drainer struct {
	epfd     int
	received atomic.Int64
	quit     atomic.Bool
	done     chan struct{}
}

func startDrainer(t testing.TB, fds []int) *drainer {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			t.Fatal(err)
		}
	}
	d := &drainer{epfd: epfd, done: make(chan struct{})}
	go d.run()
	return d
}

func (d *drainer) run() {
	defer close(d.done)
	events := make([]unix.EpollEvent, 1024)
	buf := make([]byte, 64<<10)
	for !d.quit.Load() {
		n, _ := unix.EpollWait(d.epfd, events, 20)
		for _, ev := range events[:max(n, 0)] {
			if k, _ := unix.Read(int(ev.Fd), buf); k > 0 {
				d.received.Add(int64(k))
			}
		}
	}
}

func (d *drainer) stop() {
	d.quit.Store(true)
	<-d.done
	unix.Close(d.epfd)
}

// BenchmarkAccept compares the two accept designs: a SO_REUSEPORT listener per loop against
// one listening socket whose loop hands accepted sockets to the others round-robin. Each op
// is one connection dialled by one of 16 client goroutines, accepted, opened (OnOpen) and
// reset by the client (SO_LINGER 0, so no TIME_WAIT piles up). imbalance is the busiest
// loop's share over a fair share.
func BenchmarkAccept(b *testing.B) {
	for _, mode := range []struct {
		name      string
		reusePort bool
	}{{"reuseport", true}, {"acceptor", false}} {
		b.Run(mode.name, func(b *testing.B) {
			var opened atomic.Int64
			perLoop := make([]atomic.Int64, runtime.GOMAXPROCS(0))
			h := &funcHandler{open: func(l *Loop, _ Handle, _ int, _ netip.Addr) bool {
				opened.Add(1)
				perLoop[l.Index()].Add(1)
				return true
			}}
			e, err := newEngine(Config{}, h, mode.reusePort)
			if err != nil {
				b.Fatal(err)
			}
			addr, err := e.Listen("127.0.0.1:0", 0)
			if err != nil {
				b.Fatal(err)
			}
			e.Start()
			defer e.Stop()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						c, err := net.Dial("tcp", addr.String())
						if err != nil {
							b.Error(err)
							return
						}
						c.(*net.TCPConn).SetLinger(0)
						c.Close()
					}
				}()
			}
			wg.Wait()
			waitFor(b, "accepts", 10*time.Second, func() bool { return opened.Load() == int64(b.N) })
			b.StopTimer()
			var most int64
			for i := range perLoop {
				most = max(most, perLoop[i].Load())
			}
			b.ReportMetric(float64(most)*float64(len(perLoop))/float64(b.N), "imbalance")
		})
	}
}
