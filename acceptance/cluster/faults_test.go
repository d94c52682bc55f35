package cluster_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// testNodeTTL is --node-ttl for the fault tests: short, so that a dead
// node's entries expire within the test.
const testNodeTTL = 2 * time.Second

// hangLimit bounds every publish of the fault tests: an answer that takes
// longer counts as a hang. It is well above the server's own forward bound.
const hangLimit = 6 * time.Second

// outcome classifies one publish of a fault test.
type outcome struct {
	to  string
	ans answer
	err error
	at  time.Duration // since the fault
}

func (o outcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("+%v POST /pub/%s: %v", o.at.Round(time.Millisecond), o.to, o.err)
	}
	return fmt.Sprintf("+%v POST /pub/%s = %v", o.at.Round(time.Millisecond), o.to, o.ans)
}

// publishAll sends one push to each address through n, concurrently,
// each bounded by hangLimit.
func publishAll(n *node, since time.Time, tos ...string) []outcome {
	out := make([]outcome, len(tos))
	done := make(chan int, len(tos))
	for i, to := range tos {
		go func() {
			a, err := n.try(hangLimit, "POST", "/pub/"+to, `"fault"`, "Content-Type", "application/json", "Push-Event", probeEvent)
			out[i] = outcome{to: to, ans: a, err: err, at: time.Since(since)}
			done <- i
		}()
	}
	for range tos {
		<-done
	}
	return out
}

// is503 reports a 503 that says why in a JSON error.
func is503(a answer) bool {
	return a.status == 503 && a.Error != "" && strings.HasPrefix(a.ctype, "application/json")
}

// TestNodeKilled kills node c with SIGKILL. Through node a, pushes to
// what only c held answer as if c held nothing (404 for a user or key, 200
// delivered 0 for a topic), naming c in "unreachable" while c's entries
// live (c's port refuses: it is gone for routing; a push caught on the
// breaking link may still answer 503), and without it once they expire
// (within --node-ttl); never hang; pushes to a user also on b reach b; the
// cluster keeps serving, and the survivors log no Redis failure.
func TestNodeKilled(t *testing.T) {
	t.Parallel()
	nodeKilled(t, startCluster(t, 3, testNodeTTL), killNames{onc: "onc", both: "both", topic: "kt", ona: "ona"})
}

// killNames are the names nodeKilled uses: a user only on c, a user on b
// and c, a topic only on c, and a user that connects to a afterwards.
type killNames struct{ onc, both, topic, ona string }

// nodeKilled is TestNodeKilled on the 3 nodes of cl (started with
// --node-ttl testNodeTTL).
func nodeKilled(t *testing.T, cl *cluster, n killNames) {
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	sc := c.subscribe("user=" + n.onc + "&topic=" + n.topic)
	sb := b.subscribe("user=" + n.both)
	c.subscribe("user=" + n.both)
	a.waitDelivered("user/"+n.onc, 1, 1, ioTimeout)
	a.waitDelivered("user/"+n.both, 2, 2, ioTimeout)
	a.waitDelivered("topic/"+n.topic, 1, 1, ioTimeout)
	a.waitDelivered("conn/"+sc.key, 1, 1, ioTimeout)
	a.waitDelivered("all", 3, 2, ioTimeout)

	c.kill9()
	killed := time.Now()
	tos := []string{"user/" + n.onc, "conn/" + sc.key, "topic/" + n.topic, "user/" + n.both, "all"}
	// settled reports whether an outcome is the final one for a dead c.
	settled := map[string]func(answer) bool{
		"user/" + n.onc:    func(a answer) bool { return a.status == 404 && a.Unreachable == nil },
		"conn/" + sc.key:   func(a answer) bool { return a.status == 404 && a.Unreachable == nil },
		"topic/" + n.topic: func(a answer) bool { return a.status == 200 && a.Delivered == 0 && a.Unreachable == nil },
		"user/" + n.both: func(a answer) bool {
			return a.status == 200 && a.Delivered == 1 && a.Nodes == 1 && a.Unreachable == nil
		},
		"all": func(a answer) bool {
			return a.status == 200 && a.Delivered == 1 && a.Nodes == 1 && a.Unreachable == nil
		},
	}
	settledAt := map[string]time.Duration{}
	deadline := killed.Add(4*testNodeTTL + 2*time.Second)
	for len(settledAt) < len(tos) {
		for _, o := range publishAll(a, killed, tos...) {
			switch {
			case o.err != nil:
				t.Fatalf("after kill -9 of node c: %v (a push must never hang)", o)
			case settled[o.to](o.ans):
				if _, ok := settledAt[o.to]; !ok {
					settledAt[o.to] = o.at
				}
			case is503(o.ans) || (len(o.ans.Unreachable) == 1 && o.ans.Unreachable[0] == "c" && settledWith(o.ans, settled[o.to])):
				if at, ok := settledAt[o.to]; ok {
					t.Errorf("%v after it had settled at +%v; want it to stay settled", o, at)
				}
			default:
				t.Fatalf("after kill -9 of node c: %v; want the settled answer with \"unreachable\":[\"c\"] (or 503) while c's entries live, then without it", o)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after kill -9 of node c, settled only %v of %v (node ttl %v)", time.Since(killed), settledAt, tos, testNodeTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after kill -9 (node ttl %v), first settled answers at %v", testNodeTTL, settledAt)

	// The survivors keep working both ways.
	a.mustPub("user/"+n.both, `"after"`, 1, 1, "Content-Type", "application/json")
	sb.expect("user:"+n.both, `"after"`)
	sa := a.subscribe("user=" + n.ona)
	b.waitDelivered("user/"+n.ona, 1, 1, ioTimeout)
	b.mustPub("user/"+n.ona, `"b to a"`, 1, 1, "Content-Type", "application/json")
	sa.expect("user:"+n.ona, `"b to a"`)
	noRedisTrouble(t, a, b)
}

// settledWith reports whether a is the settled answer but for its
// "unreachable" list.
func settledWith(a answer, settled func(answer) bool) bool {
	a.Unreachable = nil
	return settled(a)
}

// TestRedisDownAndBack kills Redis. Pushes to local connections keep
// working; pushes that need another node answer 503 with a JSON error.
// Redis then restarts (same port, empty) and the cluster heals by itself:
// no pushwire process is restarted, and connections made during the outage
// become reachable too.
func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	sa := a.subscribe("user=ra&topic=local&topic=rt")
	sb := b.subscribe("user=rb&topic=rt")
	c.waitDelivered("user/ra", 1, 1, ioTimeout)
	c.waitDelivered("user/rb", 1, 1, ioTimeout)
	c.waitDelivered("topic/rt", 2, 2, ioTimeout)
	a.waitDelivered("user/rb", 1, 1, ioTimeout)
	b.waitDelivered("conn/"+sa.key, 1, 1, ioTimeout)

	cl.redis.stop()
	down := time.Now()

	// Remote pushes: 503 once the nodes notice Redis is gone (at once on
	// loopback; a lookup served from the cache just before is no fault).
	remote := []struct {
		n  *node
		to string
	}{
		{a, "user/rb"}, {b, "user/ra"}, {b, "conn/" + sa.key}, {c, "user/ra"}, {c, "topic/rt"}, {c, "all"},
	}
	for _, r := range remote {
		waitUntil(t, 5*time.Second, "503 with a JSON error", func() (bool, string) {
			o := publishAll(r.n, down, r.to)[0]
			if o.err != nil {
				t.Fatalf("node %s with Redis down: %v (a push must never hang)", r.n.id, o)
			}
			return is503(o.ans), fmt.Sprintf("node %s with Redis down: %v", r.n.id, o)
		})
		// And it stays so: no push that needs Redis is answered as done.
		for range 3 {
			if o := publishAll(r.n, down, r.to)[0]; o.err != nil || !is503(o.ans) {
				t.Errorf("node %s with Redis down, again: %v; want 503 with a JSON error", r.n.id, o)
			}
		}
	}

	// Local pushes keep working.
	a.mustPub("user/ra", `"local user"`, 1, 1, "Content-Type", "application/json")
	sa.expect("user:ra", `"local user"`)
	a.mustPub("conn/"+sa.key, `"local conn"`, 1, 1, "Content-Type", "application/json")
	sa.expect("conn:"+sa.key, `"local conn"`)
	a.mustPub("topic/local", `"local topic"`, 1, 1, "Content-Type", "application/json")
	sa.expect("topic:local", `"local topic"`)
	b.mustPub("user/rb", `"local b"`, 1, 1, "Content-Type", "application/json")
	sb.expect("user:rb", `"local b"`)

	// A connection made during the outage is served locally at once …
	sNew := c.subscribe("user=during")
	c.mustPub("user/during", `"local new"`, 1, 1, "Content-Type", "application/json")
	sNew.expect("user:during", `"local new"`)

	// … and, like everything else, reachable from other nodes once Redis
	// is back: same port, empty, and no pushwire restarted.
	cl.redis.start()
	back := time.Now()
	heal := 20 * time.Second
	a.waitDelivered("user/rb", 1, 1, heal)
	t.Logf("cross-node push through a works again %v after Redis restarted", time.Since(back).Round(time.Millisecond))
	b.waitDelivered("user/ra", 1, 1, heal)
	b.waitDelivered("conn/"+sa.key, 1, 1, heal)
	a.waitDelivered("user/during", 1, 1, heal)
	c.waitDelivered("topic/rt", 2, 2, heal)
	c.waitDelivered("all", 3, 3, heal)
	for _, n := range cl.nodes {
		if !n.proc.alive() {
			t.Fatalf("node %s exited during the Redis outage", n.id)
		}
	}

	c.mustPub("user/ra", `"healed"`, 1, 1, "Content-Type", "application/json")
	sa.expect("user:ra", `"healed"`)
	a.mustPub("user/during", `"healed"`, 1, 1, "Content-Type", "application/json")
	sNew.expect("user:during", `"healed"`)

	// New registrations after the restart reach the new Redis too.
	sLate := b.subscribe("user=late")
	a.waitDelivered("user/late", 1, 1, heal)
	a.mustPub("user/late", `"late"`, 1, 1, "Content-Type", "application/json")
	sLate.expect("user:late", `"late"`)
}

// TestLinkStalled stops node b (kill -STOP) for longer than a forward may
// take but shorter than --node-ttl: pushes through a to b's users must
// answer 503 with a JSON error, never 200 and never hang; once b continues,
// pushes flow again on their own.
func TestLinkStalled(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 15*time.Second)
	a, b := cl.nodes[0], cl.nodes[1]
	sb := b.subscribe("user=lb")
	sa := a.subscribe("user=la")
	a.waitDelivered("user/lb", 1, 1, ioTimeout)

	b.pause()
	paused := time.Now()
	o := publishAll(a, paused, "user/lb")[0]
	if o.err != nil || !is503(o.ans) {
		t.Errorf("node b stopped: %v; want 503 with a JSON error within %v", o, hangLimit)
	}
	// A batch mixing b's user and a's own: the local line is delivered,
	// the other is answered 503, in order.
	res := a.batch(`{"to":"user:la","data":"mixed"}`, `{"to":"user:lb","data":"mixed"}`)
	if res[0].status != 200 || res[0].Delivered != 1 {
		t.Errorf("node b stopped, batch line 0 (user on a): %s; want 200 delivered 1", res[0].body)
	}
	if res[1].status != 503 || res[1].Error == "" {
		t.Errorf("node b stopped, batch line 1 (user on b): %s; want 503 with an error", res[1].body)
	}
	sa.expect("user:la", `"mixed"`)
	b.resume()

	// b continues: pushes flow again without a restart. (What was answered
	// 503 may or may not have been delivered: 503 says "not known".)
	waitUntil(t, 15*time.Second, "200 delivered 1", func() (bool, string) {
		o := publishAll(a, paused, "user/lb")[0]
		if o.err != nil {
			t.Fatalf("after b continued: %v (a push must never hang)", o)
		}
		return o.ans.status == 200 && o.ans.Delivered == 1, fmt.Sprintf("after b continued: %v", o)
	})
	a.mustPub("user/lb", `"flowing"`, 1, 1, "Content-Type", "application/json")
	for {
		f := sb.message()
		if string(f.Data) == `"flowing"` {
			break
		}
		if string(f.Data) != `"mixed"` {
			t.Fatalf("after the stall: got message %s to %s; want the 503'd \"mixed\" at most, then \"flowing\"", f.Data, f.To)
		}
	}
}

// TestLinkCutByRestart kills node b (kill -9) and starts it again with the
// same id and cluster port. While b is down but its entries live, its port
// refuses: a push through a to what only b held answers as if b held
// nothing, naming b in "unreachable" (after at most one 503 caught on the
// breaking link); once b is back, pushes flow to its new connections and
// the old key answers 404.
func TestLinkCutByRestart(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 15*time.Second)
	a, b := cl.nodes[0], cl.nodes[1]
	sb := b.subscribe("user=lb&topic=lt")
	sa := a.subscribe("user=la")
	a.waitDelivered("user/lb", 1, 1, ioTimeout)
	a.waitDelivered("topic/lt", 1, 1, ioTimeout)
	a.waitDelivered("conn/"+sb.key, 1, 1, ioTimeout)

	b.kill9()
	killed := time.Now()
	gone := map[string]int{"user/lb": 404, "conn/" + sb.key: 404, "topic/lt": 200}
	for round := range 3 {
		for _, o := range publishAll(a, killed, "user/lb", "conn/"+sb.key, "topic/lt") {
			switch {
			case o.err == nil && o.ans.status == gone[o.to] && o.ans.Delivered == 0 && len(o.ans.Unreachable) == 1 && o.ans.Unreachable[0] == "b":
			case o.err == nil && is503(o.ans) && round == 0:
			default:
				t.Errorf("node b killed, its entries alive (ttl 15s), round %d: %v; want %d with \"unreachable\":[\"b\"] (a 503 only in the first round)", round, o, gone[o.to])
			}
		}
		time.Sleep(200 * time.Millisecond)
	}

	b.restart()
	restarted := time.Now()
	sb2 := b.subscribe("user=lb&topic=lt")
	waitUntil(t, 15*time.Second, "200 delivered 1 nodes 1", func() (bool, string) {
		o := publishAll(a, killed, "user/lb")[0]
		if o.err != nil {
			t.Fatalf("after b restarted: %v (a push must never hang)", o)
		}
		if o.ans.status == 200 && o.ans.Delivered > 1 {
			t.Fatalf("after b restarted: %v; the killed incarnation's connection still counted", o)
		}
		return o.ans.status == 200 && o.ans.Delivered == 1 && o.ans.Nodes == 1, fmt.Sprintf("after b restarted: %v", o)
	})
	t.Logf("pushes through a reach the restarted b %v after its restart", time.Since(restarted).Round(time.Millisecond))
	a.mustPub("user/lb", `"back"`, 1, 1, "Content-Type", "application/json")
	sb2.expect("user:lb", `"back"`)
	a.waitDelivered("topic/lt", 1, 1, ioTimeout)
	if r := a.pub("conn/"+sb.key, "old"); r.status != 404 {
		t.Errorf("push to the killed incarnation's conn key: %v; want 404", r)
	}
	// And the other way, from the restarted b to a.
	b.waitDelivered("user/la", 1, 1, ioTimeout)
	b.mustPub("user/la", `"from new b"`, 1, 1, "Content-Type", "application/json")
	sa.expect("user:la", `"from new b"`)
}

// TestRedisDownPartlyLocal kills Redis and publishes, through node a, to a
// user and a topic that have connections on a and on b. a delivers to its
// own and cannot reach b's: the answer is 200 delivered 1 with b, the node
// the directory last named, in "unreachable" (SPEC §4: partial delivery is
// said, never silent).
func TestRedisDownPartlyLocal(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	sa := a.subscribe("user=split&topic=split")
	b.subscribe("user=split&topic=split")
	a.waitDelivered("user/split", 2, 2, ioTimeout)
	a.waitDelivered("topic/split", 2, 2, ioTimeout)

	cl.redis.stop()
	down := time.Now()
	for _, to := range []string{"user/split", "topic/split"} {
		waitUntil(t, 5*time.Second, `200 delivered 1 with "unreachable":["b"]`, func() (bool, string) {
			o := publishAll(a, down, to)[0]
			if o.err != nil {
				t.Fatalf("node a with Redis down: %v (a push must never hang)", o)
			}
			ok := o.ans.status == 200 && o.ans.Delivered == 1 && len(o.ans.Unreachable) == 1 && o.ans.Unreachable[0] == "b"
			return ok, fmt.Sprintf("node a with Redis down: %v", o)
		})
	}
	// The local connection still got its copies (probes, skipped) and
	// takes plain local pushes.
	a.mustPub("conn/"+sa.key, `"local"`, 1, 1, "Content-Type", "application/json")
	sa.expect("conn:"+sa.key, `"local"`)
}
