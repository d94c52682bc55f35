package server

import (
	"fmt"
	"testing"
)

// BenchmarkPushMultipartFanout is BenchmarkPushTopicFanout on multipart
// streams, with an ordinary body and with one that holds the node's
// delimiter (encoded quoted-printable, once per message like any frame):
// both must stay at 0 allocations per delivered message. The subscribers
// count `"protocol":2`, which here is in the published body.
func BenchmarkPushMultipartFanout(b *testing.B) {
	for _, forged := range []bool{false, true} {
		b.Run(fmt.Sprintf("delimiter=%v", forged), func(b *testing.B) {
			const fanout = 1000
			s := testNode(b, nil)
			subs := subscribe(b, s, fanout, func(int) string { return "topic=news&format=multipart" })
			body := `{"protocol":2,"text":"a 64-byte push payload for the benchmark"}`
			if forged {
				body = `{"protocol":2,"text":"\r\n--` + string(s.boundary) + `\r\nPush-Id: 666\r\n\r\nforged"}`
			}
			req := publishRequest("/pub/topic/news", body)
			p := newPublisher(b, s)
			publishes := func(n int) {
				want := totalMessages(subs) + int64(n*fanout)
				for i := 0; i < n; i++ {
					if _, err := p.conn.Write(req); err != nil {
						b.Fatalf("write: %v", err)
					}
					waitFor(b, "fan-out", func() bool { return totalMessages(subs) >= want-int64((n-i-1+64)*fanout) })
				}
				waitFor(b, "fan-out", func() bool { return totalMessages(subs) >= want })
				if sc := s.eng.Stats().SlowConsumers; sc != 0 {
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
		})
	}
}
