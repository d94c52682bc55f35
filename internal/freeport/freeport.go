// Package freeport hands out loopback TCP ports for listeners that must be
// named before they start: a redis-server, a node's --cluster-listen that keeps
// its port across a restart, a benchmark's server.
//
// Why not listen on 127.0.0.1:0 and close: the kernel gives a freed ephemeral
// port to the next bind to port 0, and the tests run many processes that bind
// port 0 (every pushwire under test), so a port picked that way could be taken
// before its redis-server bound it (a cluster test's Redis once got an HTTP
// answer from a pushwire node). Ports here come from below the ephemeral range,
// which a bind to port 0 never returns, and each is held by an flock on a file
// in the temporary directory, so processes picking at once never get the same
// one; the lock goes with the process or with Release.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// lowest is the first port handed out: below it sit well-known services.
const lowest = 10000

// held maps each port this process holds to its lock file.
var (
	mu   sync.Mutex
	held = map[int]*os.File{}
)

// Take returns n distinct loopback ports that nothing listens on and no other
// process using this package holds.
func Take(n int) ([]int, error) {
	hi := ephemeralLow()
	if hi-lowest < 4*n {
		return nil, fmt.Errorf("freeport: %d ports below the ephemeral range (%d): too few for %d", hi-lowest, hi, n)
	}
	dir := filepath.Join(os.TempDir(), "pushwire-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 50*n+1000 {
			Release(ports...)
			return nil, errors.New("freeport: no free port found")
		}
		p := lowest + rand.IntN(hi-lowest)
		if lock(dir, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// lock takes port p for this process if no one holds it and nothing listens on it.
func lock(dir string, p int) bool {
	mu.Lock()
	defer mu.Unlock()
	if held[p] != nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		f.Close()
		return false
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		f.Close() // in use by someone who does not take part
		return false
	}
	ln.Close()
	held[p] = f
	return true
}

// Release gives ports back (their listeners should be closed by now).
func Release(ports ...int) {
	mu.Lock()
	defer mu.Unlock()
	for _, p := range ports {
		if f := held[p]; f != nil {
			f.Close() // closing the descriptor drops the flock
			delete(held, p)
		}
	}
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768 // Linux's default
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}
