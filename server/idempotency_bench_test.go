package server

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/pushwire/pushwire/internal/nodetest"
)

// BenchmarkPushKeyed is the cost of an Idempotency-Key: the same publishes
// (one message per POST to conn:<key> of 1000 streams on the node, from 16
// api connections, pipelined) with and without a fresh key each, on a
// standalone node (keys in memory) and on a node in cluster mode (keys in a
// real redis-server: a claim and a record, two round trips, per publish).
// All four run in one invocation so their figures compare (BENCHMARKS.md).
func BenchmarkPushKeyed(b *testing.B) {
	redis := redistest.Single(b) // the parent's: a sub-benchmark's cleanup runs after each of its runs
	for _, mode := range []string{"standalone", "cluster"} {
		for _, keyed := range []bool{false, true} {
			name := mode + "/unkeyed"
			if keyed {
				name = mode + "/keyed"
			}
			b.Run(name, func(b *testing.B) {
				s := testNode(b, func(c *Config) {
					if mode == "cluster" {
						c.Redis, c.ClusterListen, c.NodeID = "redis://"+redis, "127.0.0.1:0", "bench-"+strconv.Itoa(b.N)
					}
				})
				benchKeyed(b, s, keyed)
			})
		}
	}
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// keyedPublishers is how many api connections BenchmarkPushKeyed publishes
// on: a keyed publish in cluster mode holds its connection for two Redis
// round trips, so one connection would measure latency, not cost.
const keyedPublishers = 16

func benchKeyed(b *testing.B, s *Server, keyed bool) {
	subs := openStreams(b, s, 1000, func(i int) string { return fmt.Sprintf("user=u%d", i) })
	const body = `{"n":12345678,"text":"a 64-byte push payload for the benchmark...."}`
	pubs := make([]*publisher, keyedPublishers)
	for i := range pubs {
		pubs[i] = newPublisher(b, s)
	}
	var keys int64 // a fresh key per publish, across warm-up and runs
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	run := func(n int) {
		delivered := totalMessages(subs)
		var wg sync.WaitGroup
		for pi, p := range pubs {
			share := n / len(pubs)
			if pi < n%len(pubs) {
				share++
			}
			first := keys
			keys += int64(share)
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := p.answers.Load()
				var batch []byte
				for i := 0; i < share; i += 32 {
					batch = batch[:0]
					for j := i; j < min(i+32, share); j++ {
						batch = append(batch, "POST /pub/conn/"...)
						batch = append(batch, subs[(pi+j*len(pubs))%len(subs)].key...)
						batch = append(batch, " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"...)
						if keyed {
							batch = append(batch, "Idempotency-Key: "...)
							batch = append(batch, prefix...)
							batch = strconv.AppendInt(batch, int64(pi), 10)
							batch = append(batch, '-')
							batch = strconv.AppendInt(batch, first+int64(j), 10)
							batch = append(batch, "\r\n"...)
						}
						batch = append(batch, "Content-Length: "...)
						batch = strconv.AppendInt(batch, int64(len(body)), 10)
						batch = append(batch, "\r\n\r\n"+body...)
					}
					if _, err := p.conn.Write(batch); err != nil {
						b.Errorf("write: %v", err)
						return
					}
					for p.answers.Load()-start < int64(i)-256 { // bound the pipeline depth
						// Sleep, not spin: 16 spinning senders starve the
						// server's loops and redis-server of the 2 cores.
						time.Sleep(time.Millisecond)
					}
				}
				nodetest.WaitFor(b, "answers", func() bool { return p.answers.Load()-start >= int64(share) })
			}()
		}
		wg.Wait()
		nodetest.WaitFor(b, "deliveries", func() bool { return totalMessages(subs)-delivered >= int64(n) })
	}
	run(5000) // warm up: pools, buffers, the Redis connection
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/msg")
	// CPU is what a publish costs on a shared 2-core machine, where wall
	// time also counts the other processes' turns; redis-server's is not in it.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
}
