package redistest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// Single runs one plain redis-server (not a cluster) on a free loopback
// port, without persistence, and returns its address; it is killed when the
// test ends.
func Single(t testing.TB) string {
	t.Helper()
	need(t, "redis-server", "redis-server")
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

// Server is one plain redis-server on a free loopback port, without
// persistence, that a test may stop and start again on the same port (it
// comes back empty) or pause (Pause(t, s.Process())). It is killed when the
// test ends.
type Server struct {
	t    testing.TB
	port int
	s    *server // nil while stopped
}

// StartServer runs a Server and waits until it answers PING.
func StartServer(t testing.TB) *Server {
	t.Helper()
	need(t, "redis-server", "redis-server")
	r := &Server{t: t, port: freePorts(t, 1)[0]}
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

// Addr is the server's host:port.
func (r *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL names the server as --redis takes it.
func (r *Server) URL() string { return "redis://" + r.Addr() }

// Process is the running redis-server (nil while stopped).
func (r *Server) Process() *os.Process {
	if r.s == nil {
		return nil
	}
	return r.s.cmd.Process
}

// Start runs redis-server again on the same port (after Stop) and waits
// until it answers PING.
func (r *Server) Start() {
	r.t.Helper()
	r.s = spawn(r.t, r.port)
	c := &Cluster{t: r.t}
	c.nodes[0] = r.s
	c.await(r.s, "PING answered", func() (bool, string) {
		reply, err := Do(r.s.addr, "PING")
		return reply == "PONG", fmt.Sprintf("PING = %q, %v", reply, err)
	})
}

// CommandCalls returns how many times the server ran cmd since it started
// (lower case, as INFO commandstats names it: "set", "zadd").
func (r *Server) CommandCalls(cmd string) int {
	r.t.Helper()
	n, err := commandCalls(r.Addr(), cmd)
	if err != nil {
		r.t.Fatalf("INFO commandstats on %s: %v", r.Addr(), err)
	}
	return n
}

// Stop kills redis-server (kill -9) and waits for it: its data is lost.
func (r *Server) Stop() {
	if r.s == nil {
		return
	}
	_ = r.s.cmd.Process.Kill()
	<-r.s.exited
	r.s = nil
}
