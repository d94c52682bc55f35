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
)

// BenchmarkFanOut pushes one 64-byte frame from a non-loop goroutine to N conns per op (the
// frame's bytes shared by reference) and waits until every loop has flushed it. The clients
// are in this process and drain their sockets concurrently, so the figures are ratios for this
// machine, not absolutes. ns/msg and allocs/msg are per delivered message.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { benchFanOut(b, n) })
	}
}

func benchFanOut(b *testing.B, n int) {
	f := newFanHandler(runtime.GOMAXPROCS(0))
	e, addr := startEngine(b, Config{}, f)
	conns := dialMany(b, addr, n)
	waitFor(b, "all conns open", 20*time.Second, func() bool { return e.Stats().Open == int64(n) })
	var received atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				k, err := c.Read(buf)
				received.Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	fr := &frame{b: bytes.Repeat([]byte("0123456789abcdef"), 4), done: make(chan struct{}, 1)}
	for range 10 {
		fr.send(e) // warm the pools
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		fr.send(e)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	msgs := float64(b.N) * float64(n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
	want := int64(b.N+10) * int64(n) * int64(len(fr.b))
	waitFor(b, "clients to drain", 30*time.Second, func() bool { return received.Load() == want })
	if s := e.Stats(); s.Closed != 0 {
		b.Fatalf("conns closed during the benchmark: %+v", s)
	}
	e.Stop()
	wg.Wait()
}

// BenchmarkGC times a full runtime.GC with a million-slot connection table live, next to no
// table and to a table of a million pointers: the slab holds no pointers, so it should cost
// the collector what no table costs.
func BenchmarkGC(b *testing.B) {
	const n = 1 << 20
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			runtime.GC()
		}
	})
	b.Run("slab=1M", func(b *testing.B) {
		s := newSlab()
		for i := range n {
			s.alloc(i)
		}
		b.ResetTimer()
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(&s)
	})
	b.Run("pointers=1M", func(b *testing.B) {
		type conn struct {
			fd  int
			buf []byte
		}
		t := make([]*conn, n)
		for i := range t {
			t[i] = &conn{fd: i}
		}
		b.ResetTimer()
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(t)
	})
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
