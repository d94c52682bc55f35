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
	warm := c.OnEachShard("redistest:warmup", func(name string) string { return name })
	for i, r := range c.replicas {
		c.await(r, "master_link_status:up", func() (bool, string) {
			info, err := Do(r.addr, "INFO", "replication")
			return strings.Contains(info, "master_link_status:up"), fmt.Sprintf("INFO replication = %q, %v", info, err)
		})
		c.warmUp(c.nodes[i], r, warm[i])
	}
	return c
}

// pairReplicas orders the servers as CLUSTER NODES says redis-cli arranged
// them: masters by their first slot into nodes, each one's replica into the
// same index of replicas. It waits until the first server sees every
// replica as one (redis-cli returns before they all have turned).
func (c *Cluster) pairReplicas() {
	c.t.Helper()
	all := c.servers()
	var masters, replicas []*server
	c.await(all[0], "every replica known", func() (bool, string) {
		text, err := Do(all[0].addr, "CLUSTER", "NODES")
		if err != nil {
			return false, fmt.Sprintf("CLUSTER NODES: %v", err)
		}
		masters, replicas, err = pairs(text, all)
		return err == nil, fmt.Sprintf("%v:\n%s", err, text)
	})
	copy(c.nodes[:], masters)
	copy(c.replicas[:], replicas)
}

// pairs reads CLUSTER NODES text: the masters by first slot, and the
// replica of each.
func pairs(text string, all []*server) (masters, replicas []*server, err error) {
	type entry struct {
		id, master string
		firstSlot  int
		s          *server
	}
	var ms, rs []entry
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		i := slices.IndexFunc(all, func(s *server) bool { return s.addr == addr })
		if i < 0 {
			return nil, nil, fmt.Errorf("CLUSTER NODES names %s, which this test did not start", addr)
		}
		e := entry{id: f[0], master: f[3], s: all[i]}
		switch {
		case strings.Contains(f[2], "slave"):
			rs = append(rs, e)
		case len(f) > 8:
			lo, _, _ := strings.Cut(f[8], "-")
			e.firstSlot, _ = strconv.Atoi(lo)
			ms = append(ms, e)
		}
	}
	if len(ms) != Shards || len(rs) != Shards {
		return nil, nil, fmt.Errorf("%d masters with slots and %d replicas; want %d of each", len(ms), len(rs), Shards)
	}
	slices.SortFunc(ms, func(a, b entry) int { return a.firstSlot - b.firstSlot })
	for _, m := range ms {
		j := slices.IndexFunc(rs, func(r entry) bool { return r.master == m.id })
		if j < 0 {
			return nil, nil, fmt.Errorf("master %s has no replica", m.s.addr)
		}
		masters, replicas = append(masters, m.s), append(replicas, rs[j].s)
	}
	return masters, replicas, nil
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

// Replicated waits until shard i's replica has every write its master took
// so far (its replication offset reached the master's).
func (c *Cluster) Replicated(i int) {
	c.t.Helper()
	c.awaitCaughtUp(c.nodes[i], c.replicas[i])
}

// awaitCaughtUp waits until replica's replication offset reaches the one
// primary has now. (A WAIT sent by Do would not do: it waits only for the
// writes of its own connection, and Do's connection wrote nothing.)
func (c *Cluster) awaitCaughtUp(primary, replica *server) {
	c.t.Helper()
	want, err := replOffset(primary.addr, "master_repl_offset")
	if err != nil {
		c.fail("INFO replication on %s: %v", primary.addr, err)
	}
	c.await(replica, "replication offset "+strconv.FormatInt(want, 10), func() (bool, string) {
		got, err := replOffset(replica.addr, "slave_repl_offset")
		return err == nil && got >= want, fmt.Sprintf("slave_repl_offset %d, %v", got, err)
	})
}

// warmUp writes key on primary, deletes it, and waits until replica has
// both writes: the first write after a replica's initial sync took ~0.6 s
// to reach it (Redis 7.0), later ones well under a millisecond, and tests
// must not see that.
func (c *Cluster) warmUp(primary, replica *server, key string) {
	c.t.Helper()
	for _, cmd := range [][]string{{"SET", key, "1"}, {"DEL", key}} {
		if _, err := Do(primary.addr, cmd...); err != nil {
			c.fail("%s on %s: %v", cmd[0], primary.addr, err)
		}
	}
	c.awaitCaughtUp(primary, replica)
}

// replOffset reads a replication offset field from addr's INFO replication.
func replOffset(addr, field string) (int64, error) {
	info, err := Do(addr, "INFO", "replication")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}
