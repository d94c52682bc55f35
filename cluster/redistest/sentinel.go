package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// MasterName is the name the sentinels of a Sentinel give its primary.
const MasterName = "mymaster"

// Failover timing of the sentinels, short so that a failover test takes
// seconds: a primary silent for DownAfter is down, and a failover that made
// no progress is abandoned after failoverTimeout.
const (
	DownAfterMillis = 500
	failoverTimeout = 3000
)

// Sentinel is a primary redis-server with one replica, watched by Redis
// Sentinel processes, all on free loopback ports without persistence. It is
// killed when the test ends. A test that uses it fails, never skips, when
// redis-server or redis-sentinel is missing (Debian: redis-server,
// redis-sentinel).
type Sentinel struct {
	t         testing.TB
	data      [2]*server // the first primary, then its replica; roles swap on failover
	sentinels []*server
}

// StartSentinel runs a primary, a replica that has synced with it, and
// count sentinels (quorum: a majority of them) that know the primary, the
// replica and each other, ready to fail over. With count 0 there is no
// sentinel (nothing fails over, URL is not usable): name the primary itself,
// "redis://" + Primary().
func StartSentinel(t testing.TB, count int) *Sentinel {
	t.Helper()
	need(t, "redis-server redis-sentinel", "redis-server", "redis-sentinel")
	dir := t.TempDir()
	ports := freePorts(t, 2+count)
	s := &Sentinel{t: t}
	t.Cleanup(s.stop)
	s.data[0] = spawn(t, ports[0], "--dir", dir)
	s.data[1] = spawn(t, ports[1], "--dir", dir, "--replicaof", "127.0.0.1", strconv.Itoa(ports[0]))
	for _, d := range s.data {
		s.await(d, "PING answered", func() (bool, string) {
			r, err := Do(d.addr, "PING")
			return r == "PONG", fmt.Sprintf("PING = %q, %v", r, err)
		})
	}
	s.await(s.data[1], "master_link_status:up", func() (bool, string) {
		info, err := Do(s.data[1].addr, "INFO", "replication")
		return strings.Contains(info, "master_link_status:up"), fmt.Sprintf("INFO replication = %q, %v", info, err)
	})
	s.cluster().warmUp(s.data[0], s.data[1], "redistest:warmup")
	quorum := count/2 + 1
	for i := range count {
		port := ports[2+i]
		conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(port)+".conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
			"sentinel monitor %s 127.0.0.1 %d %d\n"+
			"sentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s %d\n",
			port, dir, MasterName, ports[0], quorum, MasterName, DownAfterMillis, MasterName, failoverTimeout)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		sn := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		sn.cmd = exec.Command("redis-sentinel", conf)
		sn.start(t)
		s.sentinels = append(s.sentinels, sn)
	}
	// Each sentinel must know the replica and the other sentinels before the
	// primary fails: without them there is nobody to promote, or no majority
	// to elect the sentinel that promotes it.
	want := fmt.Sprintf("slaves=1,sentinels=%d", count)
	for _, sn := range s.sentinels {
		s.await(sn, want, func() (bool, string) {
			info, err := Do(sn.addr, "INFO", "sentinel")
			return strings.Contains(info, "status=ok,address="+s.data[0].addr+","+want), fmt.Sprintf("INFO sentinel = %q, %v", info, err)
		})
	}
	return s
}

// URL names the sentinels and the primary as --redis takes them.
func (s *Sentinel) URL() string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.addr
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/" + MasterName
}

// Primary returns the address of the data server that says it is the
// primary (INFO replication role:master).
func (s *Sentinel) Primary() string {
	s.t.Helper()
	return s.data[s.primary()].addr
}

func (s *Sentinel) primary() int {
	s.t.Helper()
	for i, d := range s.data {
		if info, err := Do(d.addr, "INFO", "replication"); err == nil && strings.Contains(info, "role:master\r\n") {
			return i
		}
	}
	s.fail("no data server says role:master")
	return -1
}

// KillPrimary kills the primary (kill -9) and returns its address: what it
// had not yet sent its replica is lost.
func (s *Sentinel) KillPrimary() string {
	s.t.Helper()
	d := s.data[s.primary()]
	_ = d.cmd.Process.Kill()
	<-d.exited
	return d.addr
}

// AwaitFailover waits until every sentinel names a primary other than old
// and that server says it is the primary; it returns its address.
func (s *Sentinel) AwaitFailover(old string) string {
	s.t.Helper()
	var addr string
	for _, sn := range s.sentinels {
		s.await(sn, "a new primary", func() (bool, string) {
			info, err := Do(sn.addr, "INFO", "sentinel")
			_, rest, _ := strings.Cut(info, "address=")
			addr, _, _ = strings.Cut(rest, ",")
			return addr != "" && addr != old, fmt.Sprintf("INFO sentinel = %q, %v", info, err)
		})
	}
	for _, d := range s.data {
		if d.addr == addr {
			s.await(d, "role:master", func() (bool, string) {
				info, err := Do(d.addr, "INFO", "replication")
				return strings.Contains(info, "role:master\r\n"), fmt.Sprintf("INFO replication = %q, %v", info, err)
			})
			return addr
		}
	}
	s.fail("sentinels name %s as the primary: not one of the data servers", addr)
	return ""
}

// Replicated waits (at most startTimeout) until the replica has every
// write the primary took so far (its replication offset reached the
// primary's), and fails the test if it does not.
func (s *Sentinel) Replicated() {
	s.t.Helper()
	p := s.primary()
	s.cluster().awaitCaughtUp(s.data[p], s.data[1-p])
}

// cluster is a Cluster over s's data servers, for its helpers: they fail
// the test with every server's output.
func (s *Sentinel) cluster() *Cluster {
	c := &Cluster{t: s.t}
	copy(c.nodes[:], s.data[:])
	return c
}

// await is Cluster.await for one of s's processes, logging all of them on
// failure.
func (s *Sentinel) await(srv *server, what string, ok func() (bool, string)) {
	s.t.Helper()
	c := &Cluster{t: s.t}
	c.nodes[0] = srv
	defer func() {
		if s.t.Failed() {
			s.logAll()
		}
	}()
	c.await(srv, what, ok)
}

func (s *Sentinel) fail(format string, args ...any) {
	s.t.Helper()
	s.logAll()
	s.t.Fatalf(format, args...)
}

func (s *Sentinel) logAll() {
	for _, srv := range s.all() {
		s.t.Logf("%s %s output:\n%s", filepath.Base(srv.cmd.Path), srv.addr, srv.out.String())
	}
}

func (s *Sentinel) all() []*server {
	out := make([]*server, 0, len(s.data)+len(s.sentinels))
	for _, d := range s.data {
		if d != nil {
			out = append(out, d)
		}
	}
	return append(out, s.sentinels...)
}

// stop kills every process (kill -9) and waits for it.
func (s *Sentinel) stop() {
	for _, srv := range s.all() {
		_ = srv.cmd.Process.Kill()
		<-srv.exited
	}
}

// ReplicaAddr returns the address of the data server that is not the
// primary.
func (s *Sentinel) ReplicaAddr() string {
	s.t.Helper()
	return s.data[1-s.primary()].addr
}
