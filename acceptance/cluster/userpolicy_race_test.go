package cluster_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUserPolicyEvictsStreamNotStartedYet: --max-conns-per-user 1,
// oldest-out, two nodes on one Redis. Many users each open two streams at
// once, both on node a or one on each node: for every user exactly one of
// the two is kicked. An admission that evicts the other stream's key while
// that stream is admitted but not yet registered on its loop (locally, or
// through the remote kick query) once found nothing to kick: both streams
// stayed open, and Redis counted one.
func TestUserPolicyEvictsStreamNotStartedYet(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 15*time.Second, "--max-conns-per-user", "1", "--user-conn-policy", "oldest-out")
	a, b := cl.nodes[0], cl.nodes[1]
	const users = 40
	kicked := make([]int, users)
	var wg sync.WaitGroup
	for u := range users {
		second := a
		if u%2 == 1 {
			second = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			kicked[u] = racePair(t, fmt.Sprintf("race%d", u), a.edge, second.edge)
		}()
	}
	wg.Wait()
	for u, n := range kicked {
		if n != 1 {
			where := "both on node a"
			if u%2 == 1 {
				where = "one on each node"
			}
			t.Errorf("user race%d (%s): %d of its 2 streams kicked; want 1", u, where, n)
		}
	}
}

// racePair opens a stream of user on each of the two edges at the same
// moment and returns how many of the two got the kicked frame within 5 s
// (a hang guard: a kick comes within the admission's round trips).
func racePair(t *testing.T, user string, edges ...string) int {
	conns := make([]net.Conn, len(edges))
	for i, e := range edges {
		c, err := net.DialTimeout("tcp", e, ioTimeout)
		if err != nil {
			t.Error(err)
			return -1
		}
		defer c.Close()
		conns[i] = c
	}
	var start, done sync.WaitGroup
	start.Add(len(conns))
	results := make(chan bool, len(conns))
	for _, c := range conns {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Done()
			start.Wait()
			fmt.Fprintf(c, "GET /sub?user=%s HTTP/1.1\r\nHost: x\r\n\r\n", user)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					results <- false
					return
				}
				if strings.Contains(line, `"cmd":"kicked"`) {
					results <- true
					return
				}
			}
		}()
	}
	done.Wait()
	close(results)
	n := 0
	for k := range results {
		if k {
			n++
		}
	}
	return n
}
