package cluster_test

import (
	"strings"
	"testing"
	"time"
)

// The per-user connection policy when things fail (README "Per-user
// connection policy", where it is looser), under refuse with N = 1.

// refused opens a subscribe that must be answered 409.
func (n *node) refused(query string) {
	n.t.Helper()
	s, err := openStream(n.edge, query, 4096)
	if err == nil {
		s.conn.Close()
		n.t.Fatalf("node %s: subscribe %s started; want 409", n.id, query)
	}
	if !strings.Contains(err.Error(), "status 409") {
		n.t.Fatalf("node %s: subscribe %s: %v; want 409", n.id, query, err)
	}
}

// TestUserPolicyDeadNode: a node killed with a user's stream: its key counts
// until its heartbeat expires (--node-ttl), then a stream of the user starts
// elsewhere. A node restarted under its id holds none of its previous
// process's streams: asked by the node a refused subscribe came to, it says
// so, and that key is dropped.
func TestUserPolicyDeadNode(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 3*time.Second, "--max-conns-per-user", "1", "--user-conn-policy", "refuse")
	a, b := cl.nodes[0], cl.nodes[1]

	a.subscribe("user=1")
	b.refused("user=1")
	a.kill9()
	waitUntil(t, 10*time.Second, "a stream of user 1 on b once a's heartbeat expired", func() (bool, string) {
		s, err := openStream(b.edge, "user=1", 4096)
		if err != nil {
			return false, err.Error()
		}
		t.Cleanup(func() { s.conn.Close() })
		return true, ""
	})

	// b holds user 1 now; user 2 on b, then b is killed and restarted at
	// once: its heartbeat is back before the old key could expire.
	b.subscribe("user=2")
	b.restart()
	a.restart()
	s := a.subscribe("user=2") // b's previous key: asked, b holds no such stream
	b.refused("user=2")        // a's counts
	s.conn.Close()
	noRedisTrouble(t, a, b)
}

// TestUserPolicyLostLeave: a key left in Redis for a stream that ended (its
// leave lost while Redis was away: here written straight into Redis) counts
// until a subscribe of the user is refused; the refusing node then asks the
// key's node, which holds no such stream, drops the key and admits. A key
// whose stream lives is kept: the next subscribe is refused.
func TestUserPolicyLostLeave(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 30*time.Second, "--max-conns-per-user", "1", "--user-conn-policy", "refuse")
	a, b := cl.nodes[0], cl.nodes[1]
	lost := "AAAAAAEAAAC3hDaz38oN10qHe_Gq7rfo.b" // a key of b with no stream
	if err := redisDo(cl.redis.addr(), "ZADD", "pw:uc:3", "1", lost); err != nil {
		t.Fatal(err)
	}
	s := a.subscribe("user=3")
	b.refused("user=3")
	a.refused("user=3")
	s.conn.Close()
	noRedisTrouble(t, a, b)
}

// TestUserPolicyRedisDown: with Redis down a subscribe is neither refused
// nor kept waiting: it starts within the Redis bound, uncounted, and the
// node keeps serving it; when Redis is back the policy applies again.
func TestUserPolicyRedisDown(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 30*time.Second, "--max-conns-per-user", "1", "--user-conn-policy", "refuse")
	a := cl.nodes[0]
	cl.redis.stop()
	s1 := a.subscribe("user=5")
	s2 := a.subscribe("user=5")
	a.mustPub("user/5", "both", 2, 1)
	s1.expect("user:5", `"both"`)
	s2.expect("user:5", `"both"`)
	s1.conn.Close()
	s2.conn.Close()
	cl.redis.start()
	waitUntil(t, 20*time.Second, "the policy back with Redis", func() (bool, string) {
		s, err := openStream(a.edge, "user=6", 4096)
		if err != nil {
			return false, err.Error()
		}
		defer s.conn.Close()
		s2, err := openStream(a.edge, "user=6", 4096)
		if err == nil {
			s2.conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "status 409") {
			return false, "second stream of user 6: " + errString(err)
		}
		return true, ""
	})
}

func errString(err error) string {
	if err == nil {
		return "started"
	}
	return err.Error()
}
