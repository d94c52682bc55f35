package cluster

import (
	"fmt"
	"log/slog"
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

// Recheck (the server's answer to a replay read that failed) runs the re-sync hooks once
// Redis answers, around a flush of queued changes, but re-adds none of the entries Redis
// still holds: no SADD, no full re-sync.
func TestRedisRecheckRunsHooksOnly(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	events := make(chan string, 16)
	d, err := NewRedisDirectory(RedisOptions{
		URL: r.url(), Self: Node{ID: "a", Addr: "a.test:7946"}, NodeTTL: time.Minute, OpTimeout: 500 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
		BeforeResync: func() { events <- "before" },
		AfterResync:  func(ok bool) { events <- fmt.Sprintf("after ok=%v", ok) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	<-events // the first registration runs the hooks too
	<-events
	for i := range 50 {
		d.AddUser(fmt.Sprintf("u%d", i))
	}
	if err := d.Flush(bg); err != nil {
		t.Fatal(err)
	}
	sadds, resyncs := commandCalls(t, raw, "sadd"), d.Stats().Resyncs
	d.AddUser("late") // queued: the recheck flushes it between the hooks
	d.Recheck()
	for _, want := range []string{"before", "after ok=true"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("hook event %q; want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no hook event within 10 s of Recheck; want %q", want)
		}
	}
	// "late": one SADD on pw:u:late, one on the node's own set; the heartbeat's SADD
	// pw:nodes; nothing re-added (a full re-sync would send one per user, 51).
	if got := commandCalls(t, raw, "sadd") - sadds; got > 3 {
		t.Errorf("Recheck sent %d SADDs; want at most 3 (the queued change, the heartbeat): entries Redis holds re-added", got)
	}
	if st := d.Stats(); st.Resyncs != resyncs || st.Rechecks != 1 {
		t.Errorf("Resyncs %d → %d, Rechecks %d; want no full re-sync and 1 recheck", resyncs, st.Resyncs, st.Rechecks)
	}
	n, err := raw.Do(bg, raw.B().Sismember().Key("pw:u:late").Member("a").Build()).AsInt64()
	if err != nil || n != 1 {
		t.Errorf("SISMEMBER pw:u:late a = %d, %v after the recheck; want 1", n, err)
	}
}

// A node that came back while a janitor was collecting it may lose entries it had just
// re-added; the janitor's mark (pw:n:{id}:cut) makes its next heartbeat re-sync them. Here the
// janitor's page is done by hand: a's entry removed from the index, the mark left.
func TestCollectedWhileBackResyncs(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 3*time.Second) // a beat every second
	b := newTestDir(t, r, "b", 3*time.Second)
	a.AddUser("u7")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	before := a.Stats().Resyncs
	cutByHand(t, raw, "b")
	eventually(t, 10*time.Second, func() string {
		n, err := raw.Do(bg, raw.B().Sismember().Key("pw:u:u7").Member("a").Build()).AsInt64()
		if err != nil || n != 1 {
			return fmt.Sprintf("SISMEMBER pw:u:u7 a = %d, %v; want a's heartbeat to take the mark and re-add it", n, err)
		}
		return ""
	})
	if ns, err := b.UserNodes(bg, "u7"); err != nil || !slices.Equal(ns, []string{"a"}) {
		t.Errorf("UserNodes(u7) = %v, %v; want [a]", ns, err)
	}
	if got := a.Stats().Resyncs; got != before+1 {
		t.Errorf("Resyncs = %d; want %d (one re-sync for the mark)", got, before+1)
	}
	if n, _ := raw.Do(bg, raw.B().Exists().Key("pw:n:{a}:cut").Build()).AsInt64(); n != 0 {
		t.Errorf("the mark is still there after a's heartbeat")
	}
}
