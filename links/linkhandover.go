package links

import (
	"net"
	"time"
)

// HandOver ends the server's part in links gently, for a process that hands its link
// listener to its successor (a zero-downtime upgrade): it stops accepting (only this
// process's descriptor closes; the socket stays open in the successor), shuts the write
// side of every link, and waits up to wait for the peers to close theirs. A peer reads EOF
// where an abrupt close would send it a reset: a push it had in flight then fails as a broken
// link (answered 503 if it reached nobody), not as a node gone, and the peer's redial reaches
// the successor. The handler still runs for pushes read meanwhile; their answers cannot be
// written. It reports whether every link ended in time; the server is closed either way.
func (s *LinkServer) HandOver(wait time.Duration) bool {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		} else {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}
