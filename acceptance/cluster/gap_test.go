package cluster_test

import (
	"strings"
	"testing"
	"time"
)

// TestGapSignalCluster: pushes published on node a reach a topic's
// subscriber on node b, whose --topic-history 2 keeps the last two; a client
// resuming on b from the first id gets the gap frame, then the two kept.
func TestGapSignalCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second, "--topic-history", "2")
	a, b := c.nodes[0], c.nodes[1]
	live := b.subscribe("topic=cg")
	a.waitDelivered("topic/cg", 1, 1, ioTimeout)
	var ids []string
	for _, body := range []string{`"c1"`, `"c2"`, `"c3"`, `"c4"`} {
		ids = append(ids, a.mustPub("topic/cg", body, 1, 1, "Content-Type", "application/json").ID)
	}
	for _, body := range []string{`"c1"`, `"c2"`, `"c3"`, `"c4"`} {
		live.expect("topic:cg", body)
	}
	resumed := b.subscribe("topic=cg&since=" + ids[0])
	resumed.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	first, err := resumed.body.ReadString('\n')
	if err != nil || !strings.Contains(first, `"cmd":"gap","since":"`+ids[0]+`"`) || !strings.HasPrefix(first, `{"protocol":3,`) {
		t.Fatalf("resume on b from c1: first frame %q, %v; want the gap frame", first, err)
	}
	resumed.expect("topic:cg", `"c3"`)
	resumed.expect("topic:cg", `"c4"`)

	whole := b.subscribe("topic=cg&since=" + ids[1]) // c2 was the newest let go of: nothing missed
	whole.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	if first, err := whole.body.ReadString('\n'); err != nil || !strings.Contains(first, `"data":"c3"`) {
		t.Errorf("resume on b from c2: first frame %q, %v; want c3 with no gap frame before it", first, err)
	}
	noRedisTrouble(t, c.nodes...)
}
