package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// NodeTimeoutMillis is the cluster-node-timeout of a Cluster with replicas:
// a master silent that long is failing, and its replica takes over about a
// second after the other masters agree (it is short so that a failover test
// takes seconds; Redis's default is 15 s).
const NodeTimeoutMillis = 1000

// replicaArgs are the extra redis-server arguments of a Cluster with
// replicas: a short node timeout, and a replica that may take over however
// long ago it last heard from its master (a test kills masters on purpose).
var replicaArgs = []string{"--cluster-node-timeout", strconv.Itoa(NodeTimeoutMillis), "--cluster-replica-validity-factor", "0"}

// StartWithReplicas runs a Redis Cluster of Shards masters, each with one
// replica that has synced with it, and waits until every node reports
// cluster_state:ok. Everything is killed when the test ends.
func StartWithReplicas(t testing.TB) *Cluster {
	t.Helper()
	c := start(t, true)
	for _, r := range c.replicas {
		c.await(r, "master_link_status:up", func() (bool, string) {
			info, err := Do(r.addr, "INFO", "replication")
			return strings.Contains(info, "master_link_status:up"), fmt.Sprintf("INFO replication = %q, %v", info, err)
		})
	}
	return c
}

// pairReplicas orders the servers as CLUSTER NODES says redis-cli arranged
// them: masters by their first slot into nodes, each one's replica into the
// same index of replicas.
func (c *Cluster) pairReplicas() {
	c.t.Helper()
	all := c.servers()
	text, err := Do(all[0].addr, "CLUSTER", "NODES")
	if err != nil {
		c.fail("CLUSTER NODES on %s: %v", all[0].addr, err)
	}
	type entry struct {
		id, master string
		firstSlot  int
		s          *server
	}
	var masters, replicas []entry
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		i := slices.IndexFunc(all, func(s *server) bool { return s.addr == addr })
		if i < 0 {
			c.fail("CLUSTER NODES names %s, which this test did not start:\n%s", addr, text)
		}
		e := entry{id: f[0], master: f[3], s: all[i]}
		if strings.Contains(f[2], "master") {
			if len(f) < 9 {
				c.fail("master %s has no slots:\n%s", addr, text)
			}
			lo, _, _ := strings.Cut(f[8], "-")
			e.firstSlot, _ = strconv.Atoi(lo)
			masters = append(masters, e)
		} else {
			replicas = append(replicas, e)
		}
	}
	if len(masters) != Shards || len(replicas) != Shards {
		c.fail("%d masters and %d replicas; want %d of each:\n%s", len(masters), len(replicas), Shards, text)
	}
	slices.SortFunc(masters, func(a, b entry) int { return a.firstSlot - b.firstSlot })
	for i, m := range masters {
		c.nodes[i] = m.s
		j := slices.IndexFunc(replicas, func(r entry) bool { return r.master == m.id })
		if j < 0 {
			c.fail("master %s has no replica:\n%s", m.s.addr, text)
		}
		c.replicas[i] = replicas[j].s
	}
}

// ReplicaAddrs returns the replicas' addresses, the one of shard 0 first.
func (c *Cluster) ReplicaAddrs() []string {
	out := make([]string, 0, Shards)
	for _, s := range c.replicas {
		if s != nil {
			out = append(out, s.addr)
		}
	}
	return out
}

// KillMaster kills shard i's master (kill -9): what it had not yet sent its
// replica is lost. It returns the master's address.
func (c *Cluster) KillMaster(i int) string {
	c.t.Helper()
	s := c.nodes[i]
	_ = s.cmd.Process.Kill()
	<-s.exited
	return s.addr
}

// AwaitFailover waits, after KillMaster(i), until shard i's replica says it
// is a master and every live node reports cluster_state:ok; the replica then
// takes the master's place (Addrs, Shard, KeyCounts use it) and shard i has
// no replica left. It returns the new master's address.
func (c *Cluster) AwaitFailover(i int) string {
	c.t.Helper()
	r := c.replicas[i]
	if r == nil {
		c.fail("shard %d has no replica to fail over to", i)
	}
	c.await(r, "role:master", func() (bool, string) {
		info, err := Do(r.addr, "INFO", "replication")
		return strings.Contains(info, "role:master\r\n"), fmt.Sprintf("INFO replication = %q, %v", info, err)
	})
	c.nodes[i], c.replicas[i] = r, nil // the dead master was waited for by KillMaster
	for _, s := range c.servers() {
		c.await(s, "cluster_state:ok", func() (bool, string) {
			info, err := Do(s.addr, "CLUSTER", "INFO")
			return strings.Contains(info, "cluster_state:ok\r\n"), fmt.Sprintf("CLUSTER INFO = %q, %v", info, err)
		})
	}
	return r.addr
}
