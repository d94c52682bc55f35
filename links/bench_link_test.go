package links

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudwego/netpoll"

	"github.com/pushwire/pushwire/cluster"
)

// Link benchmarks: one link, 64-byte payloads, every push answered (the real protocol).
//
//	go test -run '^$' -bench 'Link' -benchtime 2000000x ./links
//
// msgs/s is pushes answered per second.

var payload64 = make([]byte, 64)

func deliverOne(p *Push) Result { return Result{Delivered: 1} }

// benchPushes makes n pushes of 64 bytes to one address.
func benchPushes(n int) []*Push {
	ps := make([]*Push, n)
	for i := range ps {
		ps[i] = &Push{ID: "m", To: "user:42", Data: payload64}
	}
	return ps
}

// runBatches forwards b.N pushes in batches of 256 from 4 goroutines (so the link always has
// work queued while answers are being read).
func runBatches(b *testing.B, l *Links, node string) {
	const batch, senders = 256, 4
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := benchPushes(batch)
			for {
				n := left.Add(-batch)
				if n <= -batch {
					return
				}
				k := batch
				if n < 0 {
					k = batch + int(n)
				}
				if _, err := l.ForwardBatch(context.Background(), node, ps[:k]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	s := l.Stats()
	b.ReportMetric(float64(s.Sent)/float64(max(s.Writes, 1)), "msgs/write")
}

// BenchmarkLinkNetConn: Links (net.Conn, own buffers) → LinkServer (net.Conn, own buffers).
func BenchmarkLinkNetConn(b *testing.B) {
	store := cluster.NewMemStore()
	startNode(b, store, "b", deliverOne)
	runBatches(b, newLinks(b, store, "a", LinkOptions{}), "b")
}

// BenchmarkLinkNetpollServer: the same client against a server on cloudwego/netpoll.
func BenchmarkLinkNetpollServer(b *testing.B) {
	store := cluster.NewMemStore()
	addr, stop := startNetpollServer(b, deliverOne)
	defer stop()
	cluster.NewMemDirectory(store, cluster.Node{ID: "b", Addr: addr}, nil).Start(bg)
	runBatches(b, newLinks(b, store, "a", LinkOptions{}), "b")
}

// BenchmarkLinkForwardParallel: single pushes (no batching by the caller) from many
// goroutines; the writer still coalesces them.
func BenchmarkLinkForwardParallel(b *testing.B) {
	store := cluster.NewMemStore()
	startNode(b, store, "b", deliverOne)
	l := newLinks(b, store, "a", LinkOptions{})
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		p := &Push{ID: "m", To: "user:42", Data: payload64}
		for pb.Next() {
			if _, err := l.Forward(context.Background(), "b", p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	s := l.Stats()
	b.ReportMetric(float64(s.Sent)/float64(max(s.Writes, 1)), "msgs/write")
}

// BenchmarkLinkRaw compares the bare transports with the same frames and no Links machinery:
// a writer goroutine sends batches of 256 push frames, a reader counts answers, at most 16
// batches unanswered. Both sides use net.Conn + own buffers, or both use netpoll.
func BenchmarkLinkRaw(b *testing.B) {
	b.Run("netconn", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := NewLinkServer(deliverOne, LinkServerOptions{Logger: quiet})
		go srv.Serve(ln)
		defer srv.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		fr := newFrameReader(c, 64<<10, 1<<20)
		rawPipeline(b, func(buf []byte) error { _, err := c.Write(buf); return err }, func() (int, error) {
			if err := fr.fill(); err != nil {
				return 0, err
			}
			n := 0
			for {
				_, _, ok, err := fr.next()
				if err != nil || !ok {
					return n, err
				}
				n++
			}
		})
	})
	b.Run("netpoll", func(b *testing.B) {
		addr, stop := startNetpollServer(b, deliverOne)
		defer stop()
		c, err := netpoll.DialConnection("tcp", addr, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		r := c.Reader()
		rawPipeline(b, func(buf []byte) error {
			m, err := c.Writer().Malloc(len(buf))
			if err != nil {
				return err
			}
			copy(m, buf) // buf is reused: netpoll must own what it may still be writing
			return c.Writer().Flush()
		}, func() (int, error) {
			n := 0
			for {
				hdr, err := r.Peek(4)
				if err != nil {
					return n, err
				}
				if err := r.Skip(int(binary.BigEndian.Uint32(hdr)) + 4); err != nil {
					return n, err
				}
				n++
				if r.Len() < 4 {
					return n, r.Release()
				}
			}
		})
	})
}

func rawPipeline(b *testing.B, write func([]byte) error, read func() (int, error)) {
	const batch, window = 256, 16
	tokens := make(chan struct{}, window)
	done := make(chan error, 1)
	b.ResetTimer()
	go func() {
		got := 0
		for got < b.N {
			n, err := read()
			if err != nil {
				done <- err
				return
			}
			before := got / batch
			got += n
			for i := before; i < got/batch; i++ {
				<-tokens
			}
		}
		done <- nil
	}()
	buf := appendHello(nil, "a")
	p := &Push{ID: "m", To: "user:42", Data: payload64}
	var corr uint64
	for sent := 0; sent < b.N; {
		tokens <- struct{}{}
		for i := 0; i < batch && sent < b.N; i++ {
			buf = appendPush(buf, corr, p)
			corr++
			sent++
		}
		if err := write(buf); err != nil {
			b.Fatal(err)
		}
		buf = buf[:0]
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// startNetpollServer serves the link protocol with a netpoll EventLoop (OnRequest runs serially
// per connection, so order is kept as in LinkServer).
func startNetpollServer(tb testing.TB, h Handler) (string, func()) {
	ln, err := netpoll.CreateListener("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	type state struct {
		hello bool
		p     Push
		out   []byte
	}
	type stateKey struct{}
	loop, err := netpoll.NewEventLoop(func(ctx context.Context, c netpoll.Connection) error {
		st := ctx.Value(stateKey{}).(*state)
		r, w := c.Reader(), c.Writer()
		st.out = st.out[:0]
		for r.Len() >= frameHeader {
			hdr, err := r.Peek(4)
			if err != nil {
				return err
			}
			n := int(binary.BigEndian.Uint32(hdr)) + 4
			if r.Len() < n {
				break
			}
			frame, err := r.Next(n)
			if err != nil {
				return err
			}
			if !st.hello {
				st.hello = true
				continue
			}
			corr, err := decodePush(frame[frameHeader:], &st.p)
			if err != nil {
				return err
			}
			st.out = appendResult(st.out, corr, h(&st.p))
		}
		r.Release()
		if len(st.out) > 0 {
			m, err := w.Malloc(len(st.out))
			if err != nil {
				return err
			}
			copy(m, st.out) // st.out is reused: netpoll must own what it may still be writing
			return w.Flush()
		}
		return nil
	}, netpoll.WithOnPrepare(func(c netpoll.Connection) context.Context {
		return context.WithValue(context.Background(), stateKey{}, &state{})
	}))
	if err != nil {
		tb.Fatal(err)
	}
	go loop.Serve(ln)
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		loop.Shutdown(ctx)
	}
}
