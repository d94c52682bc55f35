package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// Directory and message store keys (cluster/doc.go), to pick names whose
// keys live on different shards of a Redis Cluster.
func userKey(name string) string  { return "pw:u:" + name }
func topicKey(name string) string { return "pw:t:" + name }
func queueKey(name string) string { return "pw:q:" + name }

// startOnRedisCluster starts a 3-shard Redis Cluster and count nodes on it.
// Node a names the cluster by every master, comma separated; node b by one
// master plus rueidis's addr= seeds; node c by one master only (rueidis
// finds the others): every spelling of --redis for a cluster is used.
func startOnRedisCluster(t *testing.T, count int, nodeTTL time.Duration) (*cluster, *redistest.Cluster) {
	t.Helper()
	rc := redistest.Start(t)
	m := rc.Addrs()
	urls := []string{rc.URL(), "redis://" + m[1] + "?addr=" + m[2] + "&addr=" + m[0], "redis://" + m[2]}
	cl := &cluster{}
	for i := range count {
		o := nodeOptions{redisURL: urls[i%len(urls)], nodeTTL: nodeTTL}
		cl.nodes = append(cl.nodes, startNode(t, string(rune('a'+i)), o))
	}
	for _, n := range cl.nodes {
		t.Logf("node %s: --redis %s; its heartbeat key pw:n:{%s} on shard %d", n.id, n.flags[1], n.id, rc.Shard("pw:n:{"+n.id+"}"))
	}
	return cl, rc
}

// TestRedisClusterCrossNodePush is TestCrossNodePush on a 3-shard Redis
// Cluster: the user with connections on a and b, the user only on a and the
// topic on a and b have their directory keys on three different shards.
func TestRedisClusterCrossNodePush(t *testing.T) {
	t.Parallel()
	cl, rc := startOnRedisCluster(t, 3, 15*time.Second)
	n := crossNames{
		user:  rc.OnEachShard("u", userKey)[0],
		solo:  rc.OnEachShard("solo", userKey)[1],
		topic: rc.OnEachShard("t", topicKey)[2],
	}
	t.Logf("user %q, solo %q, topic %q on shards 0, 1, 2", n.user, n.solo, n.topic)
	crossNodePush(t, cl, n)
	if keys := rc.KeyCounts(); keys[0] == 0 || keys[1] == 0 || keys[2] == 0 {
		t.Errorf("keys per shard %v; want the directory on every shard", keys)
	}
}

// TestRedisClusterQoS1 stores, through node a, a QoS 1 push for each of
// three offline users whose queues live on the three shards, kills a with
// SIGKILL, and has each user connect to b or c: each gets its message.
func TestRedisClusterQoS1(t *testing.T) {
	t.Parallel()
	cl, rc := startOnRedisCluster(t, 3, testNodeTTL)
	a := cl.nodes[0]
	users := rc.OnEachShard("away", queueKey)
	ids := make([]string, len(users))
	for i, u := range users {
		r := a.pub("user/"+u, fmt.Sprintf(`"kept %d"`, i), "Push-QoS", "1", "Content-Type", "application/json")
		if r.status != 202 || !r.Stored {
			t.Fatalf("node a: QoS 1 push to offline user %s = %v; want 202 stored", u, r)
		}
		ids[i] = r.ID
		// Stored before the answer, on the shard that owns the user's queue.
		if n, err := redistest.Do(rc.Addrs()[i], "ZCARD", queueKey(u)); n != "1" || err != nil {
			t.Errorf("shard %d: ZCARD %s = %q, %v; want 1", i, queueKey(u), n, err)
		}
	}
	a.kill9()
	for i, u := range users {
		via := cl.nodes[1+i%2]
		s := via.subscribe("user=" + u)
		f, err := s.nextMessage(5 * time.Second)
		if err != nil {
			t.Fatalf("user %s (queue on shard %d) connecting to node %s after node a stored a QoS 1 push for it and died: %v; want the stored message", u, i, via.id, err)
		}
		if want := fmt.Sprintf(`"kept %d"`, i); f.To != "user:"+u || string(f.Data) != want || f.ID != ids[i] {
			t.Errorf("node %s delivered %+v to %s; want the stored message id %s data %s", via.id, f, u, ids[i], want)
		}
	}
	noRedisTrouble(t, cl.nodes[1:]...)
}

// TestRedisClusterNodeKilled is TestNodeKilled on a 3-shard Redis Cluster:
// the user only on c, the user on b and c and the topic only on c have
// their keys on three different shards; once c's heartbeat expires
// (--node-ttl) its user and conn key answer 404 through a.
func TestRedisClusterNodeKilled(t *testing.T) {
	t.Parallel()
	cl, rc := startOnRedisCluster(t, 3, testNodeTTL)
	n := killNames{
		onc:   rc.OnEachShard("onc", userKey)[0],
		both:  rc.OnEachShard("both", userKey)[1],
		topic: rc.OnEachShard("kt", topicKey)[2],
		ona:   "ona",
	}
	t.Logf("user only on c %q, user on b and c %q, topic on c %q on shards 0, 1, 2", n.onc, n.both, n.topic)
	nodeKilled(t, cl, n)
}
