package perf

import (
	"fmt"
	"net"
	"time"
)

// WaitDial waits until something accepts connections on addr, for at most
// within: for commands that start a server and drive it (perf/chaos,
// perf/soak).
func WaitDial(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
