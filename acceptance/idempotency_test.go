package acceptance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A standalone node keeps Idempotency-Keys in memory: a repeated key is not
// delivered again and gets the first answer plus "duplicate":true, for a
// single publish and a batch line alike; a key whose publish reached nobody
// is released, so its retry is delivered.
func TestIdempotencyKeyStandalone(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?user=u")
	defer s.close()
	s.packet()

	first := n.pub("user/u", "once", "Idempotency-Key", "order-1")
	if first.status != 200 {
		t.Fatalf("first keyed publish = %d %s; want 200", first.status, first.body)
	}
	if !strings.Contains(s.packet(), "once") {
		t.Fatal("the first keyed publish did not reach the subscriber")
	}
	again := n.pub("user/u", "twice", "Idempotency-Key", "order-1")
	want := strings.TrimSuffix(string(first.body), "}") + `,"duplicate":true}`
	if again.status != 200 || string(again.body) != want {
		t.Errorf("repeated key = %d %s; want 200 %s (the first answer plus duplicate)", again.status, again.body, want)
	}
	// A batch line with the same key is the same publish; a new key is not.
	r := n.do("POST", "/pub", `{"to":"user:u","data":"b1","idempotency_key":"order-1"}`+"\n"+
		`{"to":"user:u","data":"b2","idempotency_key":"order-2"}`+"\n", "Content-Type", "application/x-ndjson")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	wantLine := `{"status":200,` + strings.TrimPrefix(want, "{")
	if r.status != 200 || len(lines) != 2 || lines[0] != wantLine || !strings.Contains(lines[1], `"delivered":1`) || strings.Contains(lines[1], "duplicate") {
		t.Errorf("batch with a seen key and a new one = %d %s; want line 1 %s, line 2 delivered", r.status, r.body, wantLine)
	}
	if p := s.packet(); !strings.Contains(p, "b2") {
		t.Errorf("next packet %q; want b2 (b1 and twice were duplicates)", p)
	}

	// 404 releases the key: once the user is there, the retry is delivered.
	if r := n.pub("user/later", "x", "Idempotency-Key", "k404"); r.status != 404 {
		t.Fatalf("keyed publish to nobody = %d %s; want 404", r.status, r.body)
	}
	l := n.subscribe("/sub?user=later")
	defer l.close()
	l.packet()
	if r := n.pub("user/later", "retry", "Idempotency-Key", "k404"); r.status != 200 || strings.Contains(string(r.body), "duplicate") {
		t.Errorf("retry of a 404'd key = %d %s; want 200 delivered, not a duplicate", r.status, r.body)
	}
	// A key on a whole batch is refused, not ignored.
	if r := n.do("POST", "/pub", `{"to":"user:u","data":1}`+"\n", "Idempotency-Key", "batch-1"); r.status != 400 {
		t.Errorf("POST /pub with an Idempotency-Key header = %d %s; want 400 (keys go on lines)", r.status, r.body)
	}
	if st := n.stats(); st["duplicates"] != 2 {
		t.Errorf("/stats duplicates = %v; want 2", st["duplicates"])
	}
}

// Keys that are not 1-128 URL-safe characters are refused before anything
// is delivered.
func TestIdempotencyKeyMalformed(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, k := range []string{"", strings.Repeat("k", 129), "a b", "a/b", "ключ", "a\"b"} {
		r := n.pub("topic/t", "x", "Idempotency-Key", k)
		if r.status != 400 || !strings.Contains(string(r.body), "Idempotency-Key") {
			t.Errorf("Idempotency-Key %q = %d %s; want 400 naming the header", k, r.status, r.body)
		}
	}
	if r := n.pub("topic/t", "x", "Idempotency-Key", strings.Repeat("k", 128)); r.status != 200 {
		t.Errorf("a 128-character key = %d %s; want 200", r.status, r.body)
	}
	r := n.do("POST", "/pub", `{"to":"topic:t","data":1,"idempotency_key":"a b"}`+"\n"+`{"to":"topic:t","data":1,"idempotency_key":7}`+"\n", "Content-Type", "application/x-ndjson")
	for i, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
		var a struct{ Status int }
		if json.Unmarshal([]byte(line), &a); a.Status != 400 {
			t.Errorf("batch line %d with a bad key: %s; want status 400", i, line)
		}
	}
}

// The in-memory map is bounded by --idempotency-keys: when full, the oldest
// key goes first (its retry is delivered again), counted in /stats.
func TestIdempotencyKeysBounded(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--idempotency-keys", "2", "--idempotency-window", "1h")
	for _, k := range []string{"k1", "k2", "k3"} {
		n.mustPub(200, "topic/t", "x", "Idempotency-Key", k)
	}
	if r := n.pub("topic/t", "x", "Idempotency-Key", "k3"); !strings.Contains(string(r.body), `"duplicate":true`) {
		t.Errorf("k3, among the 2 newest = %d %s; want a duplicate", r.status, r.body)
	}
	if r := n.pub("topic/t", "x", "Idempotency-Key", "k1"); strings.Contains(string(r.body), "duplicate") {
		t.Errorf("k1, the oldest of 3 keys in a map of 2 = %d %s; want it forgotten (delivered again)", r.status, r.body)
	}
	waitFor(t, 5*time.Second, "idempotency_keys_evicted in /stats", func() bool { return n.stats()["idempotency_keys_evicted"] >= 1 })
}
