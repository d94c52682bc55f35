package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pushwire/pushwire/internal/nodetest"
)

// testNode starts a node on free loopback ports for in-process tests and
// benchmarks; the black-box tests in acceptance/ run the real binary.
func testNode(tb testing.TB, mutate func(*Config)) *Server {
	s, err := New(nodetest.Config(mutate))
	return nodetest.Started(tb, s, err)
}

// subscriber is a raw client holding one stream; it counts the message
// frames it reads without allocating.
type subscriber struct {
	conn     net.Conn
	key      string
	messages atomic.Int64
}

// openStreams opens n streams with the given query and waits for each to be
// registered; a goroutine per stream then counts message frames.
func openStreams(tb testing.TB, s *Server, n int, query func(i int) string) []*subscriber {
	tb.Helper()
	subs := make([]*subscriber, n)
	for i := range subs {
		c, err := net.Dial("tcp", s.EdgeAddr().String())
		if err != nil {
			tb.Fatalf("dial edge: %v", err)
		}
		fmt.Fprintf(c, "GET /sub?%s HTTP/1.1\r\nHost: t\r\n\r\n", query(i))
		subs[i] = &subscriber{conn: c}
	}
	for _, sub := range subs {
		r := bufio.NewReader(sub.conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				tb.Fatalf("reading stream head: %v", err)
			}
			if k, ok := strings.CutPrefix(line, "Push-Conn: "); ok {
				sub.key = strings.TrimSpace(k)
			}
			if strings.Contains(line, `"state":"registered"`) {
				break
			}
		}
		go sub.count(r)
		tb.Cleanup(func() { sub.conn.Close() })
	}
	return subs
}

var messageMark = []byte(`"protocol":2`)

func (sub *subscriber) count(r *bufio.Reader) {
	buf := make([]byte, 64<<10)
	var carry int
	for {
		n, err := r.Read(buf[carry:])
		if err != nil {
			return
		}
		data := buf[:carry+n]
		sub.messages.Add(int64(bytes.Count(data, messageMark)))
		// Keep a tail that might hold half of the mark.
		carry = min(len(data), len(messageMark)-1)
		copy(buf, data[len(data)-carry:])
	}
}

// publisher sends pipelined publishes on one api connection and counts the
// answers, without allocating.
type publisher struct {
	conn    net.Conn
	answers atomic.Int64
	wg      sync.WaitGroup
}

var answerMark = []byte("HTTP/1.1 200 OK\r\n")

func newPublisher(tb testing.TB, s *Server) *publisher {
	c, err := net.Dial("tcp", s.APIAddr().String())
	if err != nil {
		tb.Fatalf("dial api: %v", err)
	}
	p := &publisher{conn: c}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 64<<10)
		var carry int
		for {
			n, err := c.Read(buf[carry:])
			if err != nil {
				return
			}
			data := buf[:carry+n]
			p.answers.Add(int64(bytes.Count(data, answerMark)))
			carry = min(len(data), len(answerMark)-1)
			copy(buf, data[len(data)-carry:])
		}
	}()
	tb.Cleanup(func() { c.Close(); p.wg.Wait() })
	return p
}

func publishRequest(path, body string) []byte {
	return []byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body))
}

func totalMessages(subs []*subscriber) int64 {
	var n int64
	for _, s := range subs {
		n += s.messages.Load()
	}
	return n
}

// BenchmarkPushUnicast publishes one message per POST to conn:<key> of 1000
// streams in turn, 64 POSTs pipelined per write, and reports the server's
// cost per delivered message. allocs/op counts the whole process, test
// clients included, which allocate nothing once running.
func BenchmarkPushUnicast(b *testing.B) {
	s := testNode(b, nil)
	subs := openStreams(b, s, 1000, func(i int) string { return fmt.Sprintf("user=u%d", i) })
	reqs := make([][]byte, len(subs))
	for i, sub := range subs {
		reqs[i] = publishRequest("/pub/conn/"+sub.key, `{"n":12345678,"text":"a 64-byte push payload for the benchmark...."}`)
	}
	benchUnicast(b, s, subs, reqs)
}

// BenchmarkPushQoS1User is BenchmarkPushUnicast with QoS 1 pushes to
// user:<id> (standalone: kept in the in-memory store, delivered, and noted
// in the sent log that bounds acks). The store keeps every message (nobody
// acks here), so messages are not recycled: allocs/op is not 0 on this path.
func BenchmarkPushQoS1User(b *testing.B) {
	s := testNode(b, func(cfg *Config) { cfg.StoreMessages, cfg.StoreBytes = 1<<20, 1<<30 })
	subs := openStreams(b, s, 1000, func(i int) string { return fmt.Sprintf("user=u%d", i) })
	reqs := make([][]byte, len(subs))
	body := `{"n":12345678,"text":"a 64-byte push payload for the benchmark...."}`
	for i := range subs {
		reqs[i] = []byte(fmt.Sprintf("POST /pub/user/u%d HTTP/1.1\r\nHost: t\r\nPush-QoS: 1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body))
	}
	benchUnicast(b, s, subs, reqs)
}

// benchUnicast sends reqs in turn, 64 pipelined per write, and reports the
// server's cost per delivered message.
func benchUnicast(b *testing.B, s *Server, subs []*subscriber, reqs [][]byte) {
	p := newPublisher(b, s)
	var batch []byte
	send := func(from, to int) {
		batch = batch[:0]
		for i := from; i < to; i++ {
			batch = append(batch, reqs[i%len(reqs)]...)
		}
		if _, err := p.conn.Write(batch); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	run := func(n int) {
		start := p.answers.Load()
		for i := 0; i < n; i += 64 {
			send(i, min(i+64, n))
			for p.answers.Load()-start < int64(i)-1024 { // bound the pipeline depth (answers stay under --write-buffer-limit)
				runtime.Gosched()
			}
		}
		nodetest.WaitFor(b, "answers", func() bool { return p.answers.Load()-start >= int64(n) })
	}
	run(20000) // warm up: pools, frames and buffers reach their steady sizes
	start := p.answers.Load()
	delivered0 := totalMessages(subs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		send(i, min(i+64, b.N))
		for p.answers.Load()-start < int64(i)-1024 { // bound the pipeline depth (answers stay under --write-buffer-limit)
			runtime.Gosched()
		}
	}
	nodetest.WaitFor(b, "answers", func() bool { return p.answers.Load()-start >= int64(b.N) })
	nodetest.WaitFor(b, "deliveries", func() bool { return totalMessages(subs)-delivered0 >= int64(b.N) })
	b.StopTimer()
}

// BenchmarkPushTopicFanout publishes to a topic with 1000 subscribers and
// reports per delivered message.
func BenchmarkPushTopicFanout(b *testing.B) {
	benchTopicFanout(b, "topic=news", func(*Server) string {
		return `{"n":12345678,"text":"a 64-byte push payload for the benchmark...."}`
	})
}

// benchTopicFanout publishes body to a topic with 1000 subscribers of the
// given query and reports per delivered message; the subscribers count
// `"protocol":2`, so body must hold it when the format does not.
func benchTopicFanout(b *testing.B, query string, body func(*Server) string) {
	const fanout = 1000
	s := testNode(b, nil)
	subs := openStreams(b, s, fanout, func(int) string { return query })
	req := publishRequest("/pub/topic/news", body(s))
	p := newPublisher(b, s)
	publishes := func(n int) {
		start := totalMessages(subs)
		want := start + int64(n*fanout)
		for i := 0; i < n; i++ {
			if _, err := p.conn.Write(req); err != nil {
				b.Fatalf("write: %v", err)
			}
			// At most 64 publishes ahead of the slowest reader: unbounded, the
			// in-process readers fell behind by more than --write-buffer-limit
			// and the server rightly cut them as slow consumers.
			for i >= 64 && totalMessages(subs)-start < int64((i-64)*fanout) {
				runtime.Gosched()
			}
		}
		nodetest.WaitFor(b, "fan-out", func() bool { return totalMessages(subs) >= want })
		if sc := s.Eng.Stats().SlowConsumers; sc != 0 {
			b.Fatalf("%d subscribers cut as slow consumers", sc)
		}
	}
	publishes(200) // warm up
	n := max(b.N/fanout, 1)
	b.ReportAllocs()
	b.ResetTimer()
	publishes(n)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*fanout), "ns/delivery")
}

// BenchmarkPushBatch publishes 100 messages per POST /pub, each to the
// conn:<key> of a different stream, and reports per delivered message.
func BenchmarkPushBatch(b *testing.B) {
	const perPost = 100
	s := testNode(b, nil)
	subs := openStreams(b, s, 1000, func(i int) string { return fmt.Sprintf("user=u%d", i) })
	var bodies [][]byte
	for i := 0; i < len(subs); i += perPost {
		var body []byte
		for _, sub := range subs[i : i+perPost] {
			body = fmt.Appendf(body, `{"to":"conn:%s","data":{"n":12345678,"text":"a push payload"}}`+"\n", sub.key)
		}
		bodies = append(bodies, body)
	}
	reqs := make([][]byte, len(bodies))
	for i, body := range bodies {
		reqs[i] = publishRequest("/pub", string(body))
	}
	p := newPublisher(b, s)
	posts := func(n int) {
		start, want := p.answers.Load(), totalMessages(subs)+int64(n*perPost)
		for i := 0; i < n; i++ {
			if _, err := p.conn.Write(reqs[i%len(reqs)]); err != nil {
				b.Fatalf("write: %v", err)
			}
			for p.answers.Load()-start < int64(i)-8 { // a few POSTs in flight
				runtime.Gosched()
			}
		}
		nodetest.WaitFor(b, "answers", func() bool { return p.answers.Load()-start >= int64(n) })
		nodetest.WaitFor(b, "deliveries", func() bool { return totalMessages(subs) >= want })
	}
	posts(200) // warm up
	n := max(b.N/perPost, 1)
	b.ReportAllocs()
	b.ResetTimer()
	posts(n)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*perPost), "ns/delivery")
}
