package cluster_test

import (
	"strings"
	"testing"
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
}
