package cluster_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/redis/rueidis"
)

// TestUserLeavesSurviveMassDisconnect: --max-conns-per-user on a node of a
// cluster; 6,000 users hold a stream each, and all of them disconnect while
// Redis is stopped (SIGSTOP) for a few seconds. Once Redis goes on, every
// user's connection set (pw:uc:<user>) is emptied: no Leave is lost. Before,
// each Leave was a router job: those past the router's queue (1,024 workers
// and 4,096 queued) were dropped, as were those that failed while Redis was
// away, and their keys stayed for good.
func TestUserLeavesSurviveMassDisconnect(t *testing.T) {
	cl := startCluster(t, 1, 15*time.Second, "--max-conns-per-user", "1")
	a := cl.nodes[0]
	const users = 6000
	conns := make([]net.Conn, users)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := w; u < users; u += 8 {
				s, err := openStream(a.edge, "user=lv"+strconv.Itoa(u), 512)
				if err != nil {
					errs <- fmt.Errorf("user lv%d: %w", u, err)
					return
				}
				conns[u] = s.conn
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{cl.redis.addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	left := func() (int, error) { // users with a pw:uc set
		n := 0
		var cursor uint64
		for {
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			e, err := rc.Do(ctx, rc.B().Scan().Cursor(cursor).Match("pw:uc:*").Count(1000).Build()).AsScanEntry()
			cancel()
			if err != nil {
				return 0, err
			}
			n += len(e.Elements)
			if cursor = e.Cursor; cursor == 0 {
				return n, nil
			}
		}
	}
	if n, err := left(); err != nil || n != users {
		t.Fatalf("%d pw:uc sets, %v; want one per user (%d)", n, err, users)
	}
	redistest.Pause(t, cl.redis.proc.cmd.Process)
	for _, c := range conns {
		c.Close()
	}
	waitUntil(t, 30*time.Second, "node a holding no connection once the streams closed", func() (bool, string) {
		n := a.stats()["connections"]
		return n == 0, fmt.Sprintf("%v connections", n)
	})
	time.Sleep(2 * time.Second) // Leaves sent meanwhile time out (userPolicyTimeout 1 s)
	if err := cl.redis.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "every user's pw:uc set emptied", func() (bool, string) {
		n, err := left()
		return err == nil && n == 0, fmt.Sprintf("%d users still have a pw:uc set (%v)", n, err)
	})
}
