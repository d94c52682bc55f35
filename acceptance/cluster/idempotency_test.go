package cluster_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The same keyed publish sent through two different nodes is delivered
// once: the second answer is the first plus "duplicate":true, and a batch
// line with the key, through a third node, is a duplicate too.
func TestIdempotencyKeyAcrossNodes(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	s := c.subscribe("user=idem")
	a.waitDelivered("user/idem", 1, 1, ioTimeout)
	b.waitDelivered("user/idem", 1, 1, ioTimeout)

	first := a.pub("user/idem", `"once"`, "Content-Type", "application/json", "Idempotency-Key", "pay-7")
	if first.status != 200 || first.Delivered != 1 || first.Duplicate {
		t.Fatalf("first keyed publish through a = %v; want 200 delivered 1", first)
	}
	s.expect("user:idem", `"once"`)
	again := b.pub("user/idem", `"twice"`, "Content-Type", "application/json", "Idempotency-Key", "pay-7")
	want := strings.TrimSuffix(strings.TrimSpace(string(first.body)), "}") + `,"duplicate":true}`
	if again.status != 200 || strings.TrimSpace(string(again.body)) != want {
		t.Errorf("the same key through b = %v; want 200 %s", again, want)
	}
	lines := c.batch(`{"to":"user:idem","data":"thrice","idempotency_key":"pay-7"}`, `{"to":"user:idem","data":"new","idempotency_key":"pay-8"}`)
	if !lines[0].Duplicate || lines[0].ID != first.ID || lines[0].status != 200 {
		t.Errorf("batch line with the key through c = %s; want the first answer (id %s) plus duplicate", lines[0].body, first.ID)
	}
	if lines[1].Duplicate || lines[1].Delivered != 1 {
		t.Errorf("batch line with a new key = %s; want delivered 1", lines[1].body)
	}
	s.expect("user:idem", `"new"`) // not "twice", not "thrice"

	// Malformed keys are 400 in a cluster too, before any claim or delivery.
	if ans := a.pub("user/idem", `"x"`, "Idempotency-Key", strings.Repeat("k", 129)); ans.status != 400 {
		t.Errorf("a 129-character key = %v; want 400", ans)
	}
	bad := c.batch(`{"to":"user:idem","data":"bad","idempotency_key":"a b"}`, `{"to":"user:idem","data":"plain"}`)
	if bad[0].status != 400 || bad[1].status != 200 || bad[1].Delivered != 1 {
		t.Errorf("batch with a malformed key and an unkeyed line = %s / %s; want 400, then 200 delivered 1", bad[0].body, bad[1].body)
	}
	s.expect("user:idem", `"plain"`)
}

// TestIdempotentRetryAfter503 publishes 1,000 keyed messages while Redis is
// down (each answered 503: the key cannot be claimed, nothing delivered),
// starts Redis again and retries all of them, then retries them once more:
// the subscriber gets every message exactly once, and the second retry is
// answered "duplicate" throughout.
func TestIdempotentRetryAfter503(t *testing.T) {
	t.Parallel()
	const n = 1000
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	s := b.subscribe("user=exact")
	a.waitDelivered("user/exact", 1, 1, ioTimeout)
	got := make(chan frame, 2*n)
	go func() {
		for {
			f, err := s.nextMessage(time.Minute)
			if err != nil {
				close(got)
				return
			}
			got <- f
		}
	}()
	keyed := func(i int) answer {
		return a.pub("user/exact", fmt.Sprintf(`"m%d"`, i), "Content-Type", "application/json", "Idempotency-Key", fmt.Sprintf("retry-%d", i))
	}

	cl.redis.stop()
	for i := range n {
		if ans := keyed(i); ans.status != 503 || ans.Error == "" {
			t.Fatalf("keyed publish %d with Redis down = %v; want 503 with an error", i, ans)
		}
	}
	cl.redis.start()
	a.waitDelivered("user/exact", 1, 1, 3*ioTimeout) // b registers again with the new Redis

	// A publisher retries a 503 until it gets an answer: the node's Redis
	// clients redial on their own schedule (a failed dial is retried after a
	// gap), so the first retries may still find them down.
	retryUntil := time.Now().Add(3 * ioTimeout)
	for i := range n {
		ans := keyed(i)
		for ans.status == 503 && time.Now().Before(retryUntil) {
			time.Sleep(20 * time.Millisecond)
			ans = keyed(i)
		}
		if ans.status != 200 || ans.Delivered != 1 || ans.Duplicate {
			t.Fatalf("retry %d once Redis is back = %v; want 200 delivered 1", i, ans)
		}
	}
	for i := range n {
		if ans := keyed(i); ans.status != 200 || !ans.Duplicate || ans.Delivered != 1 {
			t.Fatalf("second retry %d = %v; want the first answer plus duplicate", i, ans)
		}
	}
	a.mustPub("user/exact", `"end"`, 1, 1, "Content-Type", "application/json")
	seen := map[string]int{}
	for f := range got {
		if string(f.Data) == `"end"` {
			break
		}
		seen[string(f.Data)]++
	}
	for i := range n {
		if c := seen[fmt.Sprintf(`"m%d"`, i)]; c != 1 {
			t.Errorf("message m%d delivered %d times; want exactly once", i, c)
		}
	}
	if len(seen) != n {
		t.Errorf("the subscriber got %d distinct messages before the end mark; want %d", len(seen), n)
	}
}
