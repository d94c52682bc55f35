package cluster_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscriber is one of many streams read by its own goroutine, which
// records every message's data until it has all it expects.
type subscriber struct {
	s      *stream
	want   map[string]bool // data expected, as JSON text
	mu     sync.Mutex
	got    map[string]int
	errs   []string
	finish chan struct{} // closed when every wanted message came, or reading failed
}

func (sub *subscriber) read(deadline time.Time) {
	defer close(sub.finish)
	sub.s.conn.SetReadDeadline(deadline)
	for {
		f, err := sub.s.read()
		if err != nil {
			sub.fail(err.Error())
			return
		}
		if f.Protocol != 2 || f.Event == probeEvent {
			continue
		}
		data := string(f.Data)
		sub.mu.Lock()
		sub.got[data]++
		if !sub.want[data] || sub.got[data] > 1 {
			sub.errs = append(sub.errs, fmt.Sprintf("message %s to %s received %d times; want it %d times", data, f.To, sub.got[data], b2i(sub.want[data])))
		}
		complete := len(sub.got) == len(sub.want)
		for d := range sub.want {
			complete = complete && sub.got[d] == 1
		}
		sub.mu.Unlock()
		if complete {
			return
		}
	}
}

func (sub *subscriber) fail(e string) {
	sub.mu.Lock()
	sub.errs = append(sub.errs, e)
	sub.mu.Unlock()
}

// report says what sub lacks or got wrong, or "" when all is well.
func (sub *subscriber) report() string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var missing []string
	for d := range sub.want {
		if sub.got[d] == 0 {
			missing = append(missing, d)
		}
	}
	sort.Strings(missing)
	if len(missing) == 0 && len(sub.errs) == 0 {
		return ""
	}
	return fmt.Sprintf("conn %s: missing %v; %s", sub.s.key, missing, strings.Join(sub.errs, "; "))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFifteenThousandConnections spreads 15,000 subscribers over nodes a, b
// and c (5,000 each) and publishes through node d, which holds none of
// them, and through c to a topic only a and b subscribe: topic, all, 50
// group topics in one batch and 15,000 user pushes in batches. Every
// subscriber must get exactly what was addressed to it.
func TestFifteenThousandConnections(t *testing.T) {
	const (
		perNode = 5000
		holders = 3
		total   = perNode * holders
		groups  = 50
	)
	cl := startCluster(t, holders+1, 15*time.Second)
	d := cl.nodes[holders]

	subs := make([]*subscriber, total)
	jobs := make(chan int)
	var openErr sync.Once
	var firstErr error
	var wg sync.WaitGroup
	deadline := time.Now().Add(150 * time.Second)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				n := cl.nodes[i%holders]
				q := fmt.Sprintf("topic=big&topic=g%d&user=u%d", i%groups, i)
				want := map[string]bool{`"big"`: true, `"all"`: true, fmt.Sprintf(`"g%d"`, i%groups): true, fmt.Sprintf(`"u%d"`, i): true}
				if i%holders != 2 {
					q += "&topic=pair"
					want[`"pair"`] = true
				}
				s, err := openStream(n.edge, q, 1024)
				if err != nil {
					openErr.Do(func() { firstErr = fmt.Errorf("subscriber %d on node %s: %w", i, n.id, err) })
					continue
				}
				s.node = n.id
				sub := &subscriber{s: s, want: want, got: map[string]int{}, finish: make(chan struct{})}
				subs[i] = sub
				go sub.read(deadline)
			}
		}()
	}
	opened := time.Now()
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Cleanup(func() {
		for _, sub := range subs {
			if sub != nil {
				sub.s.conn.Close()
			}
		}
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	t.Logf("%d subscribers opened in %v", total, time.Since(opened).Round(time.Millisecond))
	for _, n := range cl.nodes {
		want := float64(perNode)
		if n == d {
			want = 0
		}
		waitUntil(t, 30*time.Second, fmt.Sprintf("%v connections", want), func() (bool, string) {
			st := n.stats()
			return st["connections"] == want, fmt.Sprintf("node %s /stats connections %v", n.id, st["connections"])
		})
	}
	d.waitDelivered("topic/big", total, holders, 30*time.Second)
	d.waitDelivered("all", total, holders, 30*time.Second)
	cl.nodes[2].waitDelivered("topic/pair", 2*perNode, 2, 30*time.Second)

	jsonCT := []string{"Content-Type", "application/json"}
	d.mustPub("topic/big", `"big"`, total, holders, jsonCT...)
	d.mustPub("all", `"all"`, total, holders, jsonCT...)
	cl.nodes[2].mustPub("topic/pair", `"pair"`, 2*perNode, 2, jsonCT...)

	var lines []string
	for g := range groups {
		lines = append(lines, fmt.Sprintf(`{"to":"topic:g%d","data":"g%d"}`, g, g))
	}
	for g, r := range d.batch(lines...) {
		if r.status != 200 || r.Delivered != total/groups || r.Nodes != holders {
			t.Errorf("batch through d, topic:g%d: %s; want 200 delivered %d nodes %d", g, r.body, total/groups, holders)
		}
	}

	// Users register asynchronously (batched into Redis); a line answered
	// 404 reached nobody, so it is sent again until the deadline.
	pending := make([]int, total)
	for i := range pending {
		pending[i] = i
	}
	usersDeadline := time.Now().Add(30 * time.Second)
	retried := 0
	for round := 0; len(pending) > 0; round++ {
		if round > 0 {
			if time.Now().After(usersDeadline) {
				t.Fatalf("%d user pushes through d still answer 404 after 30s, e.g. u%d", len(pending), pending[0])
			}
			retried += len(pending)
			time.Sleep(100 * time.Millisecond)
		}
		var again []int
		for start := 0; start < len(pending); start += 1000 {
			chunk := pending[start:min(start+1000, len(pending))]
			lines = lines[:0]
			for _, i := range chunk {
				lines = append(lines, fmt.Sprintf(`{"to":"user:u%d","data":"u%d"}`, i, i))
			}
			for k, r := range d.batch(lines...) {
				i := chunk[k]
				switch {
				case r.status == 200 && r.Delivered == 1 && r.Nodes == 1:
				case r.status == 404:
					again = append(again, i)
				default:
					t.Fatalf("batch through d, user:u%d (on node %s): %s; want 200 delivered 1 nodes 1", i, cl.nodes[i%holders].id, r.body)
				}
			}
		}
		pending = again
	}
	if retried > 0 {
		t.Logf("%d user pushes answered 404 at first (registration not yet in Redis) and were sent again", retried)
	}

	var bad []string
	failed := 0
	for _, sub := range subs {
		select {
		case <-sub.finish:
		case <-time.After(time.Until(deadline)):
		}
		if r := sub.report(); r != "" {
			failed++
			if len(bad) < 10 {
				bad = append(bad, "node "+sub.s.node+" "+r)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d subscribers did not get exactly their messages, e.g.:\n%s", failed, total, strings.Join(bad, "\n"))
	}
	st := d.stats()
	t.Logf("node d: forwards %v, connections %v; each of the %d subscribers got exactly its messages",
		st["forwards"], st["connections"], total)
}
