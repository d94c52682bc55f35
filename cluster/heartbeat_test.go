package cluster

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// A heartbeat that gets no answer in time (Redis paused, or too busy) is no reason to
// re-assert every entry: nothing is known to be lost, and a full re-sync adds a command per
// connection to a Redis that is already late. Only when the next heartbeat finds the
// registration gone (here: paused past --node-ttl, so the key expired) does the node
// re-sync — and then its entries are back.
func TestRedisLateHeartbeatNoResync(t *testing.T) {
	r := startRedis(t)
	const ttl = 3 * time.Second // a beat every second; OpTimeout is 500 ms
	a := newTestDir(t, r, "a", ttl)
	b := newTestDir(t, r, "b", ttl)
	for i := range 100 {
		a.AddUser(fmt.Sprintf("u%d", i))
	}
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	before := a.Stats().Resyncs

	// Paused for 1.6 s: at least one heartbeat of a times out, its key (3 s) stays.
	redistest.Pause(t, r.Process())
	time.Sleep(1600 * time.Millisecond)
	if err := r.Process().Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	errsAfterPause := a.Stats().Errors
	if errsAfterPause == 0 {
		t.Fatalf("no Redis request of a failed while Redis was paused 1.6 s (OpTimeout 500 ms): the pause did not reach a heartbeat")
	}
	// Two more heartbeats, answered.
	time.Sleep(2 * ttl / 3)
	if got := a.Stats().Resyncs; got != before {
		t.Errorf("Resyncs = %d after a heartbeat timed out and Redis kept everything; want %d (no re-sync)", got, before)
	}
	if ns, err := b.UserNodes(bg, "u7"); err != nil || !slices.Equal(ns, []string{"a"}) {
		t.Errorf("UserNodes(u7) = %v, %v; want [a]", ns, err)
	}

	// Paused past the TTL: the key expires, and the first answered heartbeat finds it gone.
	redistest.Pause(t, r.Process())
	time.Sleep(ttl + 500*time.Millisecond)
	if err := r.Process().Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if got := a.Stats().Resyncs; got <= before {
			return fmt.Sprintf("Resyncs = %d after a's registration expired; want > %d", got, before)
		}
		if ns, err := b.UserNodes(bg, "u7"); err != nil || !slices.Equal(ns, []string{"a"}) {
			return fmt.Sprintf("UserNodes(u7) = %v, %v after the re-sync; want [a]", ns, err)
		}
		return ""
	})
}
