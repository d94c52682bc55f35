package cluster_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// partialTTL is --node-ttl for TestPartialDeliveryAfterKill9: long enough
// that the user's reconnection is seen while the dead node's entries live,
// short enough that they expire within the test.
const partialTTL = 6 * time.Second

// TestPartialDeliveryAfterKill9 is issue 10's first case: a user's stream
// is on node a; a is killed with kill -9; the user reconnects to node c;
// every push to the user through node b is delivered (once) to c and
// answered 200 — naming a in "unreachable" while a's directory entries
// live, then without it once they expire — never 503.
func TestPartialDeliveryAfterKill9(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, partialTTL)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	a.subscribe("user=mover")
	b.waitDelivered("user/mover", 1, 1, ioTimeout)

	a.kill9()
	killed := time.Now()
	sc := c.subscribe("user=mover")
	// The reconnection reaches the directory asynchronously: probes until b
	// sees the user on c.
	b.waitDelivered("user/mover", 1, 1, ioTimeout)

	var named, unnamed int
	for i := 0; ; i++ {
		data := fmt.Sprintf(`"m%d"`, i)
		ans := b.pub("user/mover", data, "Content-Type", "application/json")
		at := time.Since(killed).Round(time.Millisecond)
		if ans.status != 200 || ans.Delivered != 1 || ans.Nodes != 1 {
			t.Fatalf("+%v push %d through b = %v; want 200 delivered 1 nodes 1 (delivered on c, whatever a is)", at, i, ans)
		}
		sc.expect("user:mover", data)
		switch {
		case slices.Equal(ans.Unreachable, []string{"a"}):
			if unnamed > 0 {
				t.Fatalf("+%v push %d = %v: a named again after %d answers without it", at, i, ans, unnamed)
			}
			named++
			if named == 1 {
				partialBatchAndAll(t, b, sc)
			}
		case ans.Unreachable == nil:
			unnamed++
		default:
			t.Fatalf("+%v push %d = %v; want \"unreachable\":[\"a\"] or none", at, i, ans)
		}
		if unnamed >= 3 {
			break
		}
		if time.Since(killed) > 4*partialTTL+2*time.Second {
			t.Fatalf("+%v: a still named in \"unreachable\" (node ttl %v)", at, partialTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if named == 0 {
		t.Errorf("no answer named a in \"unreachable\" while its entries lived (node ttl %v): the dead node was not reported", partialTTL)
	}
	if g := b.stats()["peers_gone"]; g < 1 {
		t.Errorf("b's /stats peers_gone = %v; want a counted as gone", g)
	}
	t.Logf("after kill -9 of a: %d answers named a, then %d without it from +%v", named, unnamed, time.Since(killed).Round(time.Millisecond))
	noRedisTrouble(t, b, c)
}

// partialBatchAndAll checks, while a is dead but named, that a batch line
// to the user and a push to all follow the same rule: 200, delivered on c,
// a in "unreachable".
func partialBatchAndAll(t *testing.T, b *node, sc *stream) {
	t.Helper()
	lines := b.batch(`{"to":"user:mover","data":"batch"}`)
	if l := lines[0]; l.status != 200 || l.Delivered != 1 || !slices.Equal(l.Unreachable, []string{"a"}) {
		t.Errorf("batch line to the user through b = %s; want status 200, delivered 1, \"unreachable\":[\"a\"]", l.body)
	}
	sc.expect("user:mover", `"batch"`)
	ans := b.pub("all", `"to all"`, "Content-Type", "application/json")
	if ans.status != 200 || ans.Delivered != 1 || !slices.Equal(ans.Unreachable, []string{"a"}) {
		t.Errorf("push to all through b = %v; want 200 delivered 1 (c's stream), \"unreachable\":[\"a\"]", ans)
	}
	sc.expect("all", `"to all"`)
}
