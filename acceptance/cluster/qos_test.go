package cluster_test

import (
	"strconv"
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

// TestQoS1ReplayBeforeLiveMessages: a user reconnecting while QoS 1 pushes
// keep coming gets the stored ones first and then the live ones, in id
// order (SPEC §5: "resent on reconnect, in order"), although the stored
// ones come from Redis and the live ones may reach the stream first.
func TestQoS1ReplayBeforeLiveMessages(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	for round := range 5 {
		user := "ordered" + strconv.Itoa(round)
		for range 10 {
			if r := a.pub("user/"+user, `"stored"`, "Push-QoS", "1", "Content-Type", "application/json"); r.status != 202 {
				t.Fatalf("QoS 1 push to offline %s = %v; want 202", user, r)
			}
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // live pushes, through the other node, while the user connects
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				a.try(5*time.Second, "POST", "/pub/user/"+user, `"live"`, "Push-QoS", "1", "Content-Type", "application/json")
			}
		}()
		time.Sleep(20 * time.Millisecond)
		s := b.subscribe("user=" + user)
		var last uint64
		stored := 0
		for i := range 30 {
			f, err := s.nextMessage(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: message %d: %v", user, i, err)
			}
			id, _ := strconv.ParseUint(f.ID, 10, 64)
			if id < last {
				t.Fatalf("%s: message %d has id %d after %d (data %s): out of order", user, i, id, last, f.Data)
			}
			last = id
			if string(f.Data) == `"stored"` {
				stored++
			} else if stored < 10 {
				t.Fatalf("%s: a live message came after only %d of the 10 stored ones", user, stored)
			}
		}
		close(stop)
		<-done
		s.conn.Close()
	}
}
