package cluster

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/redis/rueidis"
)

// TestCutMarkSurvivesLateHeartbeat: a janitor removed an entry of node a and
// left its mark; then Redis stalls past a's operation timeout, so a's next
// heartbeat gets no answer in time but runs once Redis goes on. That
// heartbeat must not consume the mark: a re-syncs at a later one and the
// entry is back. With GETDEL in the heartbeat the mark was gone with the
// lost answer, a never re-synced, and the entry stayed removed.
func TestCutMarkSurvivesLateHeartbeat(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", 3*time.Second) // a beat every second; OpTimeout 500 ms
	a.AddUser("u7")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	cutByHand(t, raw, "b:1")
	redistest.Pause(t, r.Process())
	time.Sleep(1600 * time.Millisecond) // a's next beat is sent and times out unanswered
	if err := r.Process().Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resyncedForMark(t, raw)
}

// TestCollectorWritesCutMark: a live node's janitor collecting node a (its
// heartbeat key gone, its entries left) leaves the mark, a value no earlier
// page wrote; a, back with its heartbeat key before its next beat (so only
// the mark tells it), re-syncs and re-adds what was removed, then takes the
// mark. TestCollectedWhileBackResyncs sets the mark by hand; this one has
// collectNode write it. A 60 s TTL: a's own beats (every 20 s) stay out of
// the way, and Recheck has it beat when the test says so.
func TestCollectorWritesCutMark(t *testing.T) {
	r := startRedis(t)
	raw := r.raw()
	a := newTestDir(t, r, "a", time.Minute)
	b := newTestDir(t, r, "b", time.Minute)
	a.AddUser("u7")
	if err := a.Flush(bg); err != nil {
		t.Fatal(err)
	}
	addr, err := raw.Do(bg, raw.B().Get().Key("pw:n:{a}").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.client()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(bg, raw.B().Del().Key("pw:n:{a}").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := b.collectNode(c, "a"); err != nil {
		t.Fatalf("collectNode(a) = %v", err)
	}
	mark, err := raw.Do(bg, raw.B().Get().Key("pw:n:{a}:cut").Build()).ToString()
	if err != nil || !strings.HasPrefix(mark, "b:") {
		t.Fatalf("GET pw:n:{a}:cut after b collected a = %q, %v; want b's mark", mark, err)
	}
	if n, _ := raw.Do(bg, raw.B().Sismember().Key("pw:u:u7").Member("a").Build()).AsInt64(); n != 0 {
		t.Fatalf("SISMEMBER pw:u:u7 a = %d after b collected a; want 0", n)
	}
	// a's heartbeat key is back (as its own beat would have set it just after the janitor's check).
	if err := raw.Do(bg, raw.B().Set().Key("pw:n:{a}").Value(addr).Px(time.Minute).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	a.Recheck()
	resyncedForMark(t, raw)
}

// cutByHand does what a janitor does to node a it saw dead: it removes a
// page of a's entries (user u7), then leaves its mark, valued mark.
func cutByHand(t *testing.T, raw rueidis.Client, mark string) {
	t.Helper()
	for _, cmd := range []rueidis.Completed{
		raw.B().Srem().Key("pw:u:u7").Member("a").Build(),
		raw.B().Set().Key("pw:n:{a}:cut").Value(mark).Px(time.Minute).Build(),
	} {
		if err := raw.Do(bg, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
}

// resyncedForMark waits until node a's heartbeat found the mark, re-added
// user u7 and took the mark.
func resyncedForMark(t *testing.T, raw rueidis.Client) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		n, err := raw.Do(bg, raw.B().Sismember().Key("pw:u:u7").Member("a").Build()).AsInt64()
		if err != nil || n != 1 {
			return fmt.Sprintf("SISMEMBER pw:u:u7 a = %d, %v; want a's heartbeat to find the mark and re-add it", n, err)
		}
		return ""
	})
	eventually(t, 10*time.Second, func() string {
		if n, _ := raw.Do(bg, raw.B().Exists().Key("pw:n:{a}:cut").Build()).AsInt64(); n != 0 {
			return "the mark is still there after a's re-sync"
		}
		return ""
	})
}
