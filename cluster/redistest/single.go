package redistest

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
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
	port := freePorts(t, 1)[0]
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server on %s: %v", s.addr, err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	c := &Cluster{t: t}
	c.nodes[0] = s
	t.Cleanup(c.stop)
	c.await(s, "PING answered", func() (bool, string) {
		r, err := Do(s.addr, "PING")
		return r == "PONG", fmt.Sprintf("PING = %q, %v", r, err)
	})
	return s.addr
}
