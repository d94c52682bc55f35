package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

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
			now = s.AgeCloses.Load()
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
