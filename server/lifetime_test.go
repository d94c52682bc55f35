package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
)

// TestMaxConnAgeBudget: 40 streams that all come due at the same instant
// are not ended in one sweep. With --max-conn-age 1h a loop's budget is one
// stream per tick (40 × 100 ms × 10 / 1 h < 1), so every sweep of the loop
// at a time past all their limits ends at most one, and sweeps keep ending
// them until none is left; each gets the reconnect frame, then its end.
func TestMaxConnAgeBudget(t *testing.T) {
	s := testNode(t, func(c *Config) { c.MaxConnAge, c.Loops = time.Hour, 1 })
	const n = 40
	readers := make([]*bufio.Reader, n)
	for i := range readers {
		c, err := net.Dial("tcp", s.EdgeAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET /sub?topic=budget HTTP/1.0\r\n\r\n")
		readers[i] = bufio.NewReader(c)
	}
	for _, r := range readers {
		for l, _ := r.ReadString('\n'); !strings.Contains(l, `"state":"registered"`); l, _ = r.ReadString('\n') {
			if l == "" {
				t.Fatal("a stream ended before it registered")
			}
		}
	}
	future := time.Now().Add(2 * time.Hour) // past every stream's limit
	sweeps := 0
	for ended := uint64(0); ended < n; {
		var now uint64
		onLoop(t, s, 0, func(l *engine.Loop, ls *loopState) {
			ls.Sweep(l, future)
			now = s.ageCloses.Load()
		})
		if now-ended > 1 {
			t.Fatalf("sweep %d ended %d streams past their age; want at most the budget, 1", sweeps, now-ended)
		}
		ended = now
		if sweeps++; sweeps > 100*n {
			t.Fatalf("%d sweeps ended %d of %d streams", sweeps, ended, n)
		}
	}
	for i, r := range readers {
		rest, _ := r.ReadString(0)
		if !strings.HasSuffix(rest, `"cmd":"reconnect","retry":2000}`+"\n") {
			t.Errorf("stream %d ended with %q; want the reconnect packet last", i, rest)
		}
	}
}

// TestStreamLifePacking: a stream's deadlines share subState.timer without
// touching each other, and the refresh mark survives both.
func TestStreamLifePacking(t *testing.T) {
	s := &Subscribing{Node: &edge.Node{Started: time.Date(2026, 12, 6, 4, 0, 0, 300e6, time.UTC)}}
	age := s.lifeStamp(s.Started.Add(90*time.Minute), lifeAgeMask)
	exp := s.expStamp(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC))
	life := streamLife(age) | streamLife(exp)<<lifeExpShift | lifeRefreshed
	if life.ageEnd() != age || life.expiry() != exp || !life.refreshed() {
		t.Errorf("packed %#x reads age %d, exp %d, refreshed %v; want %d, %d, true", uint64(life), life.ageEnd(), life.expiry(), life.refreshed(), age, exp)
	}
	if got := s.expTime(exp); !got.Equal(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("expTime(expStamp(05:00:00)) = %v; want 05:00:00 exactly (a token's exp is whole seconds)", got)
	}
	if got := s.expTime(s.expStamp(s.Started.Add(1500 * time.Millisecond))); !got.Equal(time.Date(2026, 12, 6, 4, 0, 2, 0, time.UTC)) {
		t.Errorf("an expiry 1.5 s after the start is kept as %v; want 04:00:02, rounded up", got)
	}
	if st := s.expStamp(s.Started.Add(-time.Hour)); st != 1 {
		t.Errorf("expStamp(before the start) = %d; want 1 (due at once, never 0: none)", st)
	}
	if st := s.expStamp(s.Started.Add(100 * 365 * 24 * time.Hour)); st != 0 {
		t.Errorf("expStamp(a century on) = %d; want 0 (beyond what the field holds: no expiry)", st)
	}
}
