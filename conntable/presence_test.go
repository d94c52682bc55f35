package conntable

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestCount(t *testing.T) {
	t.Parallel()
	tb := New(8)
	a := tb.Join(Users, []byte("42"), 1)
	tb.Join(Users, []byte("42"), 2)
	tb.Join(Topics, []byte("42"), 3)
	if got := tb.Count(Users, []byte("42")); got != 2 {
		t.Errorf("Count(Users, 42) = %d; want 2", got)
	}
	if got := tb.Count(Topics, []byte("42")); got != 1 {
		t.Errorf("Count(Topics, 42) = %d; want 1 (users and topics are apart)", got)
	}
	if got := tb.Count(Users, []byte("nobody")); got != 0 {
		t.Errorf("Count(Users, nobody) = %d; want 0", got)
	}
	tb.Leave(a)
	if got := tb.Count(Users, []byte("42")); got != 1 {
		t.Errorf("Count(Users, 42) after one Leave = %d; want 1", got)
	}
}

// TestNamesWithPrefix checks NamesWithPrefix against a plain sort of what was joined, over
// more names than one step of the walk holds, spread over every shard, with names removed in
// between (recycled group records), at limits below, at and above the number matching.
func TestNamesWithPrefix(t *testing.T) {
	t.Parallel()
	tb := New(4)
	counts := map[string]int{}
	var tokens []Membership
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		name := fmt.Sprintf("t.%d.%d", i%7, i)
		if i%5 == 0 {
			name = fmt.Sprintf("other.%d", i)
		}
		for range 1 + rng.IntN(3) {
			tokens = append(tokens, tb.Join(Topics, []byte(name), 1))
			counts[name]++
		}
		tb.Join(Users, []byte(name), 1) // a user of the same name is not a topic
	}
	for i, m := range tokens { // drop some names whole and some members
		if i%11 == 0 {
			tb.Leave(m)
		}
	}
	counts = map[string]int{}
	for _, m := range tokens {
		if name, g, ok := tb.AppendName(nil, m); ok && g == Topics {
			counts[string(name)]++
		}
	}
	for _, prefix := range []string{"", "t.", "t.3.", "other.", "t.3.1003", "nothing"} {
		var want []NameCount
		for name, n := range counts {
			if strings.HasPrefix(name, prefix) {
				want = append(want, NameCount{name, n})
			}
		}
		slices.SortFunc(want, func(a, b NameCount) int { return strings.Compare(a.Name, b.Name) })
		for _, limit := range []int{1, 10, 300, len(want), len(want) + 5} {
			if limit == 0 {
				continue
			}
			got, matched := tb.NamesWithPrefix(Topics, []byte(prefix), limit)
			w := want[:min(limit, len(want))]
			if matched != len(want) || !slices.Equal(got, w) {
				t.Errorf("NamesWithPrefix(%q, %d) = %d names (first %v), matched %d; want %d names (first %v), matched %d",
					prefix, limit, len(got), head(got), matched, len(w), head(w), len(want))
			}
		}
	}
	if got, matched := tb.NamesWithPrefix(Topics, nil, 0); got != nil || matched != 0 {
		t.Errorf("NamesWithPrefix(limit 0) = %v, %d; want nothing", got, matched)
	}
}

func head(s []NameCount) []NameCount { return s[:min(3, len(s))] }

// TestNamesWithPrefixWhileJoining walks while other goroutines join and leave (run with
// -race): it must neither fail nor report a name that never existed.
func TestNamesWithPrefixWhileJoining(t *testing.T) {
	t.Parallel()
	tb := New(4)
	for i := range 1000 {
		tb.Join(Topics, fmt.Appendf(nil, "stay.%04d", i), 1)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := tb.Join(Topics, fmt.Appendf(nil, "churn.%d.%d", g, i%500), 1)
				tb.Leave(m)
			}
		}()
	}
	for range 50 {
		got, matched := tb.NamesWithPrefix(Topics, []byte("stay."), 1000)
		if matched != 1000 || len(got) != 1000 || got[0].Name != "stay.0000" || got[999].Name != "stay.0999" {
			t.Fatalf("NamesWithPrefix(stay.) during churn = %d names, matched %d; want all 1000", len(got), matched)
		}
		for _, nc := range got {
			if nc.Count != 1 {
				t.Fatalf("NamesWithPrefix(stay.) during churn: %s has %d members; want 1", nc.Name, nc.Count)
			}
		}
	}
	close(stop)
	wg.Wait()
}
