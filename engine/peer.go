package engine

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// PeerAddr returns the address of h's peer, asked of the kernel
// (getpeername): connections keep no copy of it, since only rare requests
// need it (an auth callback's X-Forwarded-For). Call it on h's loop.
func (l *Loop) PeerAddr(h Handle) (netip.Addr, bool) {
	c, _ := l.conn(h)
	if c == nil {
		return netip.Addr{}, false
	}
	sa, err := unix.Getpeername(int(c.fd))
	if err != nil {
		return netip.Addr{}, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), true
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}
