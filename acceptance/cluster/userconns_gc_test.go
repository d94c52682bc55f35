package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestUserConnsOfDeadNodeCollected: --max-conns-per-user 3 on two nodes;
// user gone holds two streams on node b and one on node a. b is killed
// (SIGKILL: its streams' Leaves never run). Once a's janitor collects b,
// the user's connection set (pw:uc:gone) holds only a's key. Before, b's
// keys stayed there for good: only a later subscribe of the same user
// dropped them.
func TestUserConnsOfDeadNodeCollected(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 3*time.Second, "--max-conns-per-user", "3")
	a, b := cl.nodes[0], cl.nodes[1]
	sa := a.subscribe("user=gone")
	b.subscribe("user=gone")
	b.subscribe("user=gone")
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{cl.redis.addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	members := func() ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		return rc.Do(ctx, rc.B().Zrange().Key("pw:uc:gone").Min("0").Max("-1").Build()).AsStrSlice()
	}
	if m, err := members(); err != nil || len(m) != 3 {
		t.Fatalf("ZRANGE pw:uc:gone = %v, %v; want the user's 3 streams", m, err)
	}
	b.kill9()
	waitUntil(t, 30*time.Second, "pw:uc:gone holding only node a's stream once b is collected", func() (bool, string) {
		m, err := members()
		return err == nil && slices.Equal(m, []string{sa.key}), fmt.Sprintf("ZRANGE pw:uc:gone = %v, %v (a's stream %s)", m, err, sa.key)
	})
}
