package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// takeoverDir is a directory for node "a" on r, as an upgrade's new process makes it (or a
// first start without takeover), with users u0..u<n-1> and extra mirrored before Start, as
// MirrorAdopted does; not started. Closed at test end when started.
func takeoverDir(t testing.TB, r *testRedis, takeover bool, n int, extra ...string) *RedisDirectory {
	t.Helper()
	d, err := NewRedisDirectory(RedisOptions{URL: r.url(), Self: Node{ID: "a", Addr: "a.test:7946"}, NodeTTL: 15 * time.Second,
		OpTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler), Takeover: takeover})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d.AddUser(fmt.Sprint("u", i))
	}
	for _, u := range extra {
		d.AddUser(u)
	}
	t.Cleanup(func() {
		d.mu.Lock()
		started := d.started
		d.mu.Unlock()
		if started {
			d.Close()
		}
	})
	return d
}

// An upgrade's new process starts its directory without the full re-sync (review 7, finding
// 9): one round trip whatever the number of names, the old process's entries left as they
// are; Resync, once it serves, then makes Redis hold exactly its mirror, without the hooks.
func TestRedisTakeoverStartsWithoutResync(t *testing.T) {
	r := startRedis(t)
	const users = 3000
	old := takeoverDir(t, r, false, users, "gone") // "gone" left the old process just before it stopped
	if err := old.Start(bg); err != nil {
		t.Fatal(err)
	}
	if err := old.Flush(bg); err != nil {
		t.Fatal(err)
	}
	old.crash() // the old process stops without unregistering, as after a handoff's go

	var hooks atomic.Int32
	nw := takeoverDir(t, r, true, users, "late") // "late" joined the old process, not written yet
	nw.o.BeforeResync = func() { hooks.Add(1) }
	nw.o.AfterResync = func(bool) { hooks.Add(1) }
	if err := nw.Start(bg); err != nil {
		t.Fatalf("takeover Start = %v; want nil", err)
	}
	if rt := nw.Stats().RoundTrips; rt != 1 {
		t.Errorf("takeover Start made %d round trips to Redis; want 1 (the heartbeat), not a re-sync", rt)
	}
	reader := newTestDir(t, r, "b", 15*time.Second)
	has := func(user string) bool {
		ns, err := reader.liveMembers(bg, keyUser(reader.o.Prefix, user))
		if err != nil {
			t.Fatal(err)
		}
		return slices.Equal(ns, []string{"a"})
	}
	for _, u := range []string{"u0", fmt.Sprint("u", users-1), "gone"} {
		if !has(u) {
			t.Errorf("after the takeover's Start, %s is not on node a; the old process's entries must stay", u)
		}
	}
	if has("late") {
		t.Error("late is on node a before Resync; the takeover's Start wrote entries")
	}
	nw.Resync()
	eventually(t, 10*time.Second, func() string {
		if has("gone") || !has("late") || !has("u1") {
			return fmt.Sprintf("after Resync: gone on a %v (want false), late %v (want true), u1 %v (want true)", has("gone"), has("late"), has("u1"))
		}
		return ""
	})
	if n := hooks.Load(); n != 0 {
		t.Errorf("Resync after a takeover ran the re-sync hooks %d times; want 0 (no publisher missed the node)", n)
	}
	nw.AddUser("after") // changes after the takeover are written as usual
	if err := nw.Flush(bg); err != nil || !has("after") {
		t.Errorf("a user added after the takeover: Flush = %v, on node a %v; want nil, true", err, has("after"))
	}
}

// Start honours its context (review 7, finding 9): a re-sync that cannot end within it is
// given up with the context's error, and the directory goes on in the background. The
// context ends as the re-sync begins (from BeforeResync), so no timing decides the outcome.
func TestRedisStartHonoursContext(t *testing.T) {
	r := startRedis(t)
	const users = 2000
	old := takeoverDir(t, r, false, users)
	if err := old.Start(bg); err != nil {
		t.Fatal(err)
	}
	old.crash()
	d := takeoverDir(t, r, false, users)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var first atomic.Bool
	d.o.BeforeResync = func() {
		if first.CompareAndSwap(false, true) {
			cancel()
		}
	}
	err := d.Start(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start whose context ends as its re-sync of %d names begins = %v; want context.Canceled", users, err)
	}
	eventually(t, 20*time.Second, func() string {
		if s := d.Stats(); s.Resyncs == 0 {
			return "the re-sync given up by Start never completed in the background"
		}
		return ""
	})
}
