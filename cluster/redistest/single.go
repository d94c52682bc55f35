package redistest

import (
	"fmt"
	"os/exec"
	"testing"
)

// Single runs one plain redis-server (not a cluster) on a free loopback
// port, without persistence, and returns its address; it is killed when the
// test ends.
func Single(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed: %v (apt-get install redis-server)", err)
	}
	s := spawn(t, freePorts(t, 1)[0])
	c := &Cluster{t: t}
	c.nodes[0] = s
	t.Cleanup(c.stop)
	c.await(s, "PING answered", func() (bool, string) {
		r, err := Do(s.addr, "PING")
		return r == "PONG", fmt.Sprintf("PING = %q, %v", r, err)
	})
	return s.addr
}
