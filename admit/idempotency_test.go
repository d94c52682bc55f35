package admit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redistest"
)

// idemContract checks what every Idempotency promises, on two nodes' views
// of one store (a and b: the same map, or two clients of one Redis).
func idemContract(t *testing.T, a, b Idempotency) {
	ctx := context.Background()
	out := make([]Claim, 3)
	keys := []string{"k1", "k2", "k3"}
	if err := a.Claim(ctx, keys, out); err != nil {
		t.Fatalf("Claim(new keys) = %v; want nil", err)
	}
	for i, c := range out {
		if !c.Won {
			t.Fatalf("Claim(new key %s) = %+v; want Won", keys[i], c)
		}
	}
	// Claimed, no answer yet: the other node sees it pending.
	if err := b.Claim(ctx, keys[:1], out[:1]); err != nil || !out[0].Pending {
		t.Fatalf("Claim(k1) on b while a holds it = %+v, %v; want Pending", out[0], err)
	}
	// a records k1's answer and releases k2 (its publish failed).
	if err := a.Record(ctx, keys[:2], [][]byte{[]byte(`200 {"id":"1"}`), nil}); err != nil {
		t.Fatalf("Record = %v; want nil", err)
	}
	if err := b.Claim(ctx, keys[:2], out[:2]); err != nil {
		t.Fatal(err)
	}
	if string(out[0].Answer) != `200 {"id":"1"}` || out[0].Won || out[0].Pending {
		t.Errorf("Claim(k1) on b after a recorded = %+v; want the answer", out[0])
	}
	if !out[1].Won {
		t.Errorf("Claim(k2) on b after a released it = %+v; want Won (a retry delivers afresh)", out[1])
	}
	// k2, now held by b, is pending for a, its first claimer.
	if err := a.Claim(ctx, keys[1:2], out[:1]); err != nil || !out[0].Pending {
		t.Errorf("Claim(k2) on a while b holds it = %+v, %v; want Pending", out[0], err)
	}
}

func TestIdemMemoryContract(t *testing.T) {
	t.Parallel()
	m := NewIdemMemory(IdemOptions{Window: time.Minute, Hold: 10 * time.Second, Keys: 100})
	idemContract(t, m, m)
}

func TestIdemRedisContract(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	o := IdemOptions{Window: time.Minute, Hold: 10 * time.Second}
	o.Node = "a"
	a := NewIdemRedis(newConn(t, r.URL()), o)
	o.Node = "b"
	b := NewIdemRedis(newConn(t, r.URL()), o)
	idemContract(t, a, b)

	// The hold and the window are Redis expiries.
	ctx := context.Background()
	if ms, err := pttl(r, "pw:i:{k1}"); err != nil || ms <= 10_000 || ms > 60_000 {
		t.Errorf("PTTL of a recorded key = %d, %v; want the window (60s), above the hold", ms, err)
	}
	if ms, err := pttl(r, "pw:i:{k3}"); err != nil || ms <= 0 || ms > 10_000 {
		t.Errorf("PTTL of a pending key = %d, %v; want the hold (10s)", ms, err)
	}
	// One round trip per call, whatever the number of keys: pipelined SETs.
	before := r.CommandCalls("set")
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprint("batch", i)
	}
	out := make([]Claim, len(keys))
	if err := a.Claim(ctx, keys, out); err != nil || !out[49].Won {
		t.Fatalf("Claim(50 keys) = %v, %+v", err, out[49])
	}
	if n := r.CommandCalls("set") - before; n != 50 {
		t.Errorf("Claim(50 keys) ran SET %d times; want 50", n)
	}

	// Redis down: Claim fails within the bound, claiming nothing.
	r.Stop()
	err := b.Claim(ctx, []string{"down"}, out[:1])
	if !errors.Is(err, cluster.ErrDirectoryDown) {
		t.Errorf("Claim with Redis down = %v; want cluster.ErrDirectoryDown", err)
	}
}

// On a Redis Cluster each key lives on its own slot; a batch spread over
// every shard is still one call.
func TestIdemRedisClusterContract(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	o := IdemOptions{Window: time.Minute, Hold: 10 * time.Second, Node: "a"}
	a := NewIdemRedis(newConn(t, rc.URL()), o)
	o.Node = "b"
	b := NewIdemRedis(newConn(t, "redis://"+rc.Addrs()[2]), o)
	idemContract(t, a, b)
	keys := rc.OnEachShard("idem", func(n string) string { return keyIdem("pw:", n) })
	out := make([]Claim, len(keys))
	if err := a.Claim(context.Background(), keys, out); err != nil {
		t.Fatalf("Claim(a key on each shard) = %v; want nil", err)
	}
	for i, c := range out {
		if !c.Won {
			t.Errorf("Claim(%s) = %+v; want Won", keys[i], c)
		}
	}
}

// A full map drops its oldest keys first and counts them; expired keys go
// without being counted.
func TestIdemMemoryBoundOldestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewIdemMemory(IdemOptions{Window: time.Minute, Hold: time.Minute, Keys: 3})
	out := make([]Claim, 1)
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := m.Claim(ctx, []string{k}, out); err != nil || !out[0].Won {
			t.Fatalf("Claim(%s) = %+v, %v; want Won", k, out[0], err)
		}
	}
	if m.Len() != 3 || m.Evicted() != 1 {
		t.Errorf("after 4 keys in a map of 3: Len %d, Evicted %d; want 3, 1", m.Len(), m.Evicted())
	}
	if m.Claim(ctx, []string{"a"}, out); !out[0].Won {
		t.Errorf("Claim(a) after it was evicted = %+v; want Won", out[0])
	}
	if m.Claim(ctx, []string{"c"}, out); !out[0].Pending {
		t.Errorf("Claim(c), still held = %+v; want Pending", out[0])
	}
	if err := m.Record(ctx, []string{"b"}, [][]byte{[]byte("200 {}")}); !errors.Is(err, ErrIdemClaimLost) {
		t.Errorf("Record(b) after b was evicted = %v; want ErrIdemClaimLost", err)
	}

	short := NewIdemMemory(IdemOptions{Window: time.Millisecond, Hold: time.Millisecond, Keys: 2})
	short.Claim(ctx, []string{"x"}, out)
	short.Claim(ctx, []string{"y"}, out)
	time.Sleep(5 * time.Millisecond)
	short.Claim(ctx, []string{"z"}, out)
	if short.Evicted() != 0 || short.Len() != 1 {
		t.Errorf("after x, y expired and z came: Evicted %d, Len %d; want 0, 1", short.Evicted(), short.Len())
	}
}

// Export gives the answered keys, oldest first, and a store Restored from them answers their
// claims as the first one did: an upgrade's new process (upgrade/qos.go). A pending key is
// not exported (its publish is answered where it runs).
func TestIdemMemoryExportRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewIdemMemory(IdemOptions{Window: time.Minute, Hold: time.Minute, Keys: 10})
	out := make([]Claim, 3)
	if err := m.Claim(ctx, []string{"a", "b", "pending"}, out); err != nil {
		t.Fatal(err)
	}
	if err := m.Record(ctx, []string{"a", "b"}, [][]byte{[]byte("answer a"), []byte("answer b")}); err != nil {
		t.Fatal(err)
	}
	n := NewIdemMemory(IdemOptions{Window: time.Minute, Hold: time.Minute, Keys: 10})
	var keys []string
	m.Export(func(key string, expires time.Time, answer []byte) {
		keys = append(keys, key)
		n.Restore(key, expires, answer)
	})
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Errorf("Export gave %q; want the answered keys a, b in claim order", keys)
	}
	if err := n.Claim(ctx, []string{"a", "b", "pending"}, out); err != nil {
		t.Fatal(err)
	}
	if string(out[0].Answer) != "answer a" || string(out[1].Answer) != "answer b" || !out[2].Won {
		t.Errorf("claims after Restore = %+v; want a's and b's answers, and pending won afresh", out)
	}
}
