package cluster_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// Redis high availability (issue 17, item 5): --redis names the sentinels of
// a primary with one replica (redistest.StartSentinel); the primary is killed
// (kill -9) while pushes flow, a sentinel promotes the replica, and the
// nodes follow it by themselves.

// failoverWithin bounds how long the nodes may take to use the new primary
// once the sentinels named it. A hang guard, not a performance criterion:
// rueidis follows +switch-master at once, or within its 1s topology refresh.
const failoverWithin = 2 * ioTimeout

// storeKept publishes count QoS 1 messages to the offline user through n,
// requires each stored (202), and calls replicated, which waits until the
// replica has them all.
func storeKept(t *testing.T, n *node, replicated func(), user string, count int) []qosPub {
	t.Helper()
	pubs := make([]qosPub, count)
	for i := range pubs {
		pubs[i] = publishQoS(n, user, i)
		if p := pubs[i]; p.err != nil || p.ans.status != 202 || !p.ans.Stored {
			t.Fatalf("node %s: QoS 1 publish %d to offline user %s = %v, %v; want 202 stored", n.id, i, user, p.ans, p.err)
		}
	}
	replicated()
	return pubs
}

// checkKept subscribes user on n and requires every message of pubs, in
// order (what the user was sent and did not ack may come too, flagged as
// resends): stored, and replicated before any primary died, so the
// promoted replica has them.
func checkKept(t *testing.T, n *node, user string, pubs []qosPub) {
	t.Helper()
	s := n.subscribe("user=" + user)
	r := &received{}
	go readAcking(s, n.edge, 0, r)
	frames := waitReceived(t, r, pubs, ioTimeout)
	s.conn.Close()
	checkQoSDelivery(t, pubs, frames)
}

// checkRegistered requires Redis, after the failover, to hold node id's
// heartbeat and its entry for user, asking owner(key) for each key: the
// directory re-asserted (or kept) what it registered.
func checkRegistered(t *testing.T, owner func(key string) string, id, user string) {
	t.Helper()
	waitUntil(t, failoverWithin, "node "+id+" and its user "+user+" registered after the failover", func() (bool, string) {
		addr, err1 := redistest.Do(owner("pw:n:{"+id+"}"), "GET", "pw:n:{"+id+"}")
		member, err2 := redistest.Do(owner(userKey(user)), "SISMEMBER", userKey(user), id)
		return addr != "" && member == "1", fmt.Sprintf("GET pw:n:{%s} = %q, %v; SISMEMBER %s %s = %q, %v", id, addr, err1, userKey(user), id, member, err2)
	})
}

// TestSentinelFailoverOneNode: one node on a sentinel-watched primary (one
// sentinel). Pushes to the node's own subscriber never stop: every one is
// answered 200 delivered 1 and read by the stream, in order, across the
// failover. QoS 1 messages stored and replicated before the primary died are
// replayed afterwards, and QoS 1 publishing works again by itself.
func TestSentinelFailoverOneNode(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, 1)
	a := startNode(t, "a", nodeOptions{redisURL: sn.URL(), nodeTTL: testNodeTTL})
	s := a.subscribe("user=local")
	a.waitDelivered("user/local", 1, 1, ioTimeout)
	kept := storeKept(t, a, sn.Replicated, "kept", 20)

	load := startLoad(2*time.Millisecond, func(seq int) qosPub {
		ans, err := a.try(hangLimit, "POST", "/pub/user/local", strconv.Itoa(seq), "Content-Type", "application/json")
		return qosPub{seq: seq, ans: ans, err: err}
	})
	answered := func() int { _, n := load.okSince(0); return n }
	waitUntil(t, ioTimeout, "50 local pushes answered before the failover", func() (bool, string) {
		return answered() >= 50, fmt.Sprintf("%d answered", answered())
	})
	killed := time.Now()
	old := sn.KillPrimary()
	primary := sn.AwaitFailover(old)
	t.Logf("primary %s killed; the sentinel promoted %s %v later", old, primary, time.Since(killed).Round(time.Millisecond))
	var after []qosPub
	waitUntil(t, failoverWithin, "a QoS 1 publish stored on the new primary (202)", func() (bool, string) {
		p := publishQoS(a, "after", len(after))
		after = append(after, p)
		return p.ok(), fmt.Sprintf("last answered %v, %v", p.ans, p.err)
	})
	t.Logf("QoS 1 stored again %v after the kill", time.Since(killed).Round(time.Millisecond))
	back := answered()
	waitUntil(t, ioTimeout, "50 local pushes answered after the QoS 1 store was back", func() (bool, string) {
		return answered() >= back+50, fmt.Sprintf("%d answered", answered()-back)
	})
	pushes := load.halt()
	t.Logf("%d local pushes; QoS 1 publishes until one was stored: %s", len(pushes), countStatus(after))
	for _, p := range pushes {
		if p.err != nil || p.ans.status != 200 || p.ans.Delivered != 1 {
			t.Fatalf("local push %d = %v, %v; want 200 delivered 1 throughout the failover", p.seq, p.ans, p.err)
		}
	}
	for _, p := range pushes {
		if f := s.message(); string(f.Data) != strconv.Itoa(p.seq) {
			t.Fatalf("stream read %+v; want push %d: local pushes must all arrive, in order", f, p.seq)
		}
	}
	checkKept(t, a, "kept", kept)
	checkRegistered(t, func(string) string { return primary }, "a", "local")
}

// TestSentinelFailoverTwoNodes: two nodes on a primary watched by three
// sentinels; the primary is killed under QoS 1 load (failoverUnderLoad).
func TestSentinelFailoverTwoNodes(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, 3)
	var primary string
	failoverUnderLoad(t, sn.URL(), "online", "kept", failover{
		replicated: sn.Replicated,
		kill: func() string {
			primary = sn.AwaitFailover(sn.KillPrimary())
			return primary
		},
		owner: func(string) string { return primary },
	})
}

// TestRedisClusterFailover: two nodes on a Redis Cluster of three masters
// with a replica each (--redis names all six); the master that holds the
// users' QoS 1 mailboxes is killed under load (failoverUnderLoad) and its
// replica takes over.
func TestRedisClusterFailover(t *testing.T) {
	t.Parallel()
	rc := redistest.StartWithReplicas(t)
	online := rc.OnEachShard("online", queueKey)[0]
	kept := rc.OnEachShard("kept", queueKey)[0]
	failoverUnderLoad(t, "redis://"+strings.Join(append(rc.Addrs(), rc.ReplicaAddrs()...), ","), online, kept, failover{
		replicated: func() { rc.Replicated(0) },
		kill: func() string {
			rc.KillMaster(0)
			return rc.AwaitFailover(0)
		},
		owner: func(key string) string { return rc.Addrs()[rc.Shard(key)] },
	})
}

// failover is how failoverUnderLoad drives one kind of highly available Redis.
type failover struct {
	replicated func()                  // waits until the replica has every write the primary took
	kill       func() string           // kills the primary holding the users' mailboxes, waits for the promotion, names the new one
	owner      func(key string) string // the address that serves key after the failover
}

// failoverUnderLoad: user online streams from node a and acks every 20
// messages; QoS 1 messages to it are published through node b, one after
// the other, while the primary is killed (kill -9). Publishes are answered
// 200, 202 or 503 (while no primary answers), never hang, and succeed again
// by themselves. Every message answered 200 reached the stream, in order,
// once (or flagged as a resend); every one answered 202 that the stream was
// not sent is replayed when the user connects again. Messages stored for the
// offline user kept and replicated before the failure are replayed after it.
func failoverUnderLoad(t *testing.T, url, online, kept string, f failover) {
	o := nodeOptions{redisURL: url, nodeTTL: testNodeTTL}
	a, b := startNode(t, "a", o), startNode(t, "b", o)
	s := a.subscribe("user=" + online)
	b.waitDelivered("user/"+online, 1, 1, ioTimeout)
	keptPubs := storeKept(t, b, f.replicated, kept, 20)
	r := &received{}
	go readAcking(s, a.edge, 20, r)

	load := startLoad(time.Millisecond, func(seq int) qosPub { return publishQoS(b, online, seq) })
	okSince := load.okSince
	waitUntil(t, ioTimeout, "100 publishes answered before the failover", func() (bool, string) {
		_, n := okSince(0)
		return n >= 100, fmt.Sprintf("%d answered", n)
	})
	killed := time.Now()
	primary := f.kill()
	_, promoted := okSince(0)
	t.Logf("primary killed; %s promoted %v later, after %d publishes", primary, time.Since(killed).Round(time.Millisecond), promoted)
	waitUntil(t, failoverWithin, "100 publishes answered 200/202 after the promotion", func() (bool, string) {
		ok, n := okSince(promoted)
		return ok >= 100, fmt.Sprintf("%d of %d answered 200/202", ok, n)
	})
	t.Logf("100 publishes answered 200/202 %v after the kill", time.Since(killed).Round(time.Millisecond))
	pubs := load.halt()

	// Answered 200: delivered to the live stream. Answered 202: stored while b
	// could not reach a (its directory read or the forward failed in the
	// window), so the stream is not sent it; it waits in the user's mailbox
	// for the user's next stream.
	var live, stored []qosPub
	for _, p := range pubs {
		if p.err != nil || (p.ans.status != 200 && p.ans.status != 202 && p.ans.status != 503) {
			t.Errorf("publish %d = %v, %v; want 200, 202 or (while no primary answers) 503", p.seq, p.ans, p.err)
		}
		switch {
		case p.ok() && p.ans.Delivered > 0:
			live = append(live, p)
		case p.ok():
			stored = append(stored, p)
		}
	}
	frames := waitReceived(t, r, live, ioTimeout)
	checkRegistered(t, f.owner, "a", online) // while the stream is open
	s.conn.Close()
	t.Logf("publishes: %s; frames read: %d; acks: %d", countStatus(pubs), len(frames), len(r.ackAnswers()))
	// Order is promised for what was answered 200 (delivered live). A message
	// answered 202 was stored while b could not reach a; when a re-syncs after
	// the failover, its replay may send it to the open stream, after messages
	// published later: it arrives once (or flagged as a resend), not in order.
	liveIDs := map[string]bool{}
	for _, p := range live {
		liveIDs[p.ans.ID] = true
	}
	var liveFrames []frame
	copies := map[string]int{}
	for _, f := range frames {
		if liveIDs[f.ID] {
			liveFrames = append(liveFrames, f)
		}
		if !f.Resend {
			if copies[f.ID]++; copies[f.ID] == 2 {
				t.Errorf("message %s (data %s) arrived twice without the resend flag", f.ID, f.Data)
			}
		}
	}
	checkQoSDelivery(t, live, liveFrames)
	seen := map[string]bool{}
	for _, f := range frames {
		seen[f.ID] = true
	}
	var missed []qosPub
	for _, p := range stored {
		if !seen[p.ans.ID] {
			missed = append(missed, p)
		}
	}
	t.Logf("%d answered 202 (stored, a unreachable from b), %d of them not sent to the live stream", len(stored), len(missed))
	checkKept(t, a, online, missed)
	checkKept(t, a, kept, keptPubs)
}

// TestQoS1WaitReplicas: with --redis ...?wait_replicas=1 a QoS 1 publish is
// answered 202 only once the replica has the message (it is there the
// moment the answer comes), and 503 when the primary has no replica to
// acknowledge it (the message is on the primary, its survival unknown).
func TestQoS1WaitReplicas(t *testing.T) {
	t.Parallel()
	// No sentinel: nothing fails over here, and one that took the loaded
	// machine's slowness for a dead primary would promote the replica.
	sn := redistest.StartSentinel(t, 0)
	// WAIT's bound is the longest below the node's 1 s Redis request bound,
	// not the default half of it: it bounds how long the replica, another
	// process on this loaded machine, may take to acknowledge, and a late
	// acknowledgement is a 503 (correctly: the write's survival is unknown).
	a := startNode(t, "a", nodeOptions{redisURL: "redis://" + sn.Primary() + "?wait_replicas=1&wait_timeout=900ms", nodeTTL: testNodeTTL})
	replica := sn.ReplicaAddr()
	for i := range 20 {
		p := publishQoS(a, "waited", i)
		if p.err != nil || p.ans.status != 202 {
			t.Fatalf("QoS 1 publish %d with wait_replicas=1 = %v, %v; want 202", i, p.ans, p.err)
		}
		if n, err := redistest.Do(replica, "ZCARD", queueKey("waited")); n != strconv.Itoa(i+1) || err != nil {
			t.Fatalf("after publish %d was answered, ZCARD %s on the replica = %q, %v; want %d", i, queueKey("waited"), n, err, i+1)
		}
	}

	alone := startRedis(t)
	b := startNode(t, "b", nodeOptions{redisURL: alone.url() + "?wait_replicas=1&wait_timeout=50ms", nodeTTL: testNodeTTL})
	p := publishQoS(b, "waited", 0)
	if p.err != nil || p.ans.status != 503 {
		t.Fatalf("QoS 1 publish with wait_replicas=1 on a primary without replicas = %v, %v; want 503", p.ans, p.err)
	}
	if n, err := redistest.Do(alone.addr(), "ZCARD", queueKey("waited")); n != "1" || err != nil {
		t.Errorf("ZCARD %s on that primary = %q, %v; want 1 (stored, replication unknown)", queueKey("waited"), n, err)
	}
}

// loadGen publishes with pub(0), pub(1), … one after the other, a pause
// apart, until halt, and keeps every answer.
type loadGen struct {
	mu         sync.Mutex
	pubs       []qosPub
	stop, done chan struct{}
}

func startLoad(pause time.Duration, pub func(seq int) qosPub) *loadGen {
	l := &loadGen{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for seq := 0; ; seq++ {
			select {
			case <-l.stop:
				return
			default:
			}
			p := pub(seq)
			l.mu.Lock()
			l.pubs = append(l.pubs, p)
			l.mu.Unlock()
			time.Sleep(pause)
		}
	}()
	return l
}

// okSince counts the answers from the from-th on: those answered 200/202, and all.
func (l *loadGen) okSince(from int) (ok, all int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return countOK(l.pubs[from:]), len(l.pubs) - from
}

// halt stops publishing and returns every answer.
func (l *loadGen) halt() []qosPub {
	close(l.stop)
	<-l.done
	return l.pubs
}
