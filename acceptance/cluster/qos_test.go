package cluster_test

import (
	"testing"
	"time"
)

// TestQoS1AcrossNodes: a QoS 1 push for an offline user, taken by node a,
// is stored (SPEC §5: in Redis in cluster mode) and resent when the user
// connects to node b, "on whichever node the user reconnects to".
func TestQoS1AcrossNodes(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	r := a.pub("user/away", `"kept"`, "Push-QoS", "1", "Content-Type", "application/json")
	if r.status != 202 || !r.Stored {
		t.Fatalf("node a: QoS 1 push to an offline user = %v; want 202 stored", r)
	}
	s := b.subscribe("user=away")
	f, err := s.nextMessage(5 * time.Second)
	if err != nil {
		t.Fatalf("user connecting on node b after node a stored a QoS 1 push for it: %v; want the stored message", err)
	}
	if f.To != "user:away" || string(f.Data) != `"kept"` || f.ID != r.ID {
		t.Fatalf("node b delivered %+v; want the stored message id %s data \"kept\"", f, r.ID)
	}
}

// TestQoS1SurvivesNodeDeath: a QoS 1 message stored through node a is not
// lost when a dies (SPEC §8); the user gets it on node b.
func TestQoS1SurvivesNodeDeath(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	r := a.pub("user/orphan", `"kept"`, "Push-QoS", "1", "Content-Type", "application/json")
	if r.status != 202 || !r.Stored {
		t.Fatalf("node a: QoS 1 push to an offline user = %v; want 202 stored", r)
	}
	a.kill9()
	s := b.subscribe("user=orphan")
	f, err := s.nextMessage(5 * time.Second)
	if err != nil {
		t.Fatalf("user connecting on node b after node a (which stored a QoS 1 push for it) died: %v; want the stored message", err)
	}
	if f.To != "user:orphan" || string(f.Data) != `"kept"` || f.ID != r.ID {
		t.Fatalf("node b delivered %+v; want the stored message id %s data \"kept\"", f, r.ID)
	}
}
