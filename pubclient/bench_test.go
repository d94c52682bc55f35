package pubclient

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkPublish: one topic publish at a time through the client, against a
// real node (client and server share the machine: compare with
// BenchmarkPublishRawFasthttp from the same run, not across machines).
func BenchmarkPublish(b *testing.B) {
	n := startNode(b)
	c, err := New(Config{Addrs: []string{n.api}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := Message{To: "topic:bench", Data: []byte("0123456789abcdef0123456789abcdef")}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishRawFasthttp is the floor: the same request with a bare
// fasthttp.HostClient, no answer decoded (what cmd/pushbench does).
func BenchmarkPublishRawFasthttp(b *testing.B) {
	n := startNode(b)
	hc := &fasthttp.HostClient{Addr: n.api}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	body := []byte("0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.Reset()
		req.Header.SetMethod("POST")
		req.SetRequestURI("/pub/topic/bench")
		req.Header.SetHost(n.api)
		req.SetBodyRaw(body)
		if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatal(err, resp.StatusCode())
		}
	}
}

// BenchmarkPublishBatch100: 100 lines per PublishBatch; per-op is one batch.
func BenchmarkPublishBatch100(b *testing.B) {
	n := startNode(b)
	c, err := New(Config{Addrs: []string{n.api}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msgs := make([]BatchMessage, 100)
	for i := range msgs {
		msgs[i] = BatchMessage{To: "topic:bench", Data: json.RawMessage(`"0123456789abcdef0123456789abcdef"`)}
	}
	ctx := context.Background()
	bad := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.PublishBatch(ctx, msgs, func(_ int, _ Result, err error) {
			if err != nil {
				bad++
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	if bad > 0 {
		b.Fatalf("%d lines failed", bad)
	}
}
