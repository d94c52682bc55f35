package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/nodetest"
)

// BenchmarkPushPresence pushes to conn:<key> of 1000 streams in turn, 64
// pipelined per write, the publisher blocking on their answers (no spin: a
// spinning client fights the presence goroutines for the two cores and
// measures the Go scheduler, not the server), on a node whose 1000 streams
// hold 16 topics each (16,000 topics, 1000 users), run three ways in one go
// so the figures share the machine's load of the moment:
//
//   - quiet: no presence query;
//   - presence-paced: a client asks about 1000 queries/s in turn
//     (/presence/user/<id>, /presence/topic/<name>, /topics?prefix=room.1&limit=100,
//     the last walking all 17,000 names of the table);
//   - presence-flat-out: the same queries back to back, one in flight.
//
// pushes/s is the unicast throughput; queries/s what the presence client
// got answered meanwhile; cpu-ns/push the process's CPU (server and the
// in-process clients) per push. allocs/op counts the whole process: 0 when
// quiet; with queries running it includes theirs (server and client), which
// are not per pushed message.
func BenchmarkPushPresence(b *testing.B) {
	for _, mode := range []struct {
		name string
		gap  time.Duration // between queries; -1 = none run
	}{{"quiet", -1}, {"presence-paced", time.Millisecond}, {"presence-flat-out", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			s := testNode(b, nil)
			subs := openStreams(b, s, 1000, func(i int) string {
				q := fmt.Sprintf("user=u%d", i)
				for k := range 16 {
					q += fmt.Sprintf("&topic=room.%d.%d", i, k)
				}
				return q
			})
			reqs := make([][]byte, len(subs))
			for i, sub := range subs {
				reqs[i] = publishRequest("/pub/conn/"+sub.key, `{"n":12345678,"text":"a 64-byte push payload for the benchmark...."}`)
			}
			var queries atomic.Int64
			if mode.gap >= 0 {
				stop := presenceLoop(b, s, mode.gap, &queries)
				defer stop()
			}
			c, err := net.Dial("tcp", s.APIAddr().String())
			if err != nil {
				b.Fatalf("dial api: %v", err)
			}
			defer c.Close()
			pushBlocking(b, c, reqs, 20000) // warm up
			delivered0 := totalMessages(subs)
			q0 := queries.Load()
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ReportAllocs()
			b.ResetTimer()
			pushBlocking(b, c, reqs, b.N)
			nodetest.WaitFor(b, "deliveries", func() bool { return totalMessages(subs)-delivered0 >= int64(b.N) })
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			secs := b.Elapsed().Seconds()
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(b.N)/secs, "pushes/s")
			b.ReportMetric(float64(queries.Load()-q0)/secs, "queries/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/push")
		})
	}
}

// pushBlocking sends n pushes from reqs in turn, 64 per write, and reads
// their 64 answers before the next write.
func pushBlocking(b *testing.B, c net.Conn, reqs [][]byte, n int) {
	var batch []byte
	buf := make([]byte, 64<<10)
	for i := 0; i < n; i += 64 {
		batch = batch[:0]
		m := min(64, n-i)
		for k := i; k < i+m; k++ {
			batch = append(batch, reqs[k%len(reqs)]...)
		}
		if _, err := c.Write(batch); err != nil {
			b.Fatalf("write: %v", err)
		}
		carry := 0
		for got := 0; got < m; {
			k, err := c.Read(buf[carry:])
			if err != nil {
				b.Fatalf("read answers: %v", err)
			}
			data := buf[:carry+k]
			got += bytes.Count(data, answerMark)
			carry = min(len(data), len(answerMark)-1)
			copy(buf, data[len(data)-carry:])
		}
	}
}

// presenceLoop asks s presence queries on one keep-alive api connection,
// one in flight, gap apart, counting good answers, until stop is called.
func presenceLoop(tb testing.TB, s *Server, gap time.Duration, answered *atomic.Int64) (stop func()) {
	c, err := net.Dial("tcp", s.APIAddr().String())
	if err != nil {
		tb.Fatalf("dial api: %v", err)
	}
	paths := []string{"/presence/user/u%d", "/presence/topic/room.%d.3", "/topics?prefix=room.1&limit=100"}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var failure atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(c)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			path := paths[i%len(paths)]
			if strings.Contains(path, "%d") {
				path = fmt.Sprintf(path, i%1000)
			}
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
				failure.Store(err.Error())
				return
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				failure.Store(err.Error())
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failure.Store(fmt.Sprintf("GET %s = %d", path, resp.StatusCode))
				return
			}
			answered.Add(1)
			if gap > 0 {
				time.Sleep(gap)
			}
		}
	}()
	return func() {
		close(done)
		c.Close()
		wg.Wait()
		if f := failure.Load(); f != nil && !strings.Contains(f.(string), "closed") {
			tb.Errorf("presence loop: %s", f)
		}
	}
}
