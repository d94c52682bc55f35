package engine

import (
	"net/netip"

	"github.com/pushwire/pushwire/engine/sys"
)

// PeerAddr returns the address of h's peer, asked of the kernel
// (getpeername): connections keep no copy of it, since only rare requests
// need it (an auth callback's X-Forwarded-For). Call it on h's loop.
func (l *Loop) PeerAddr(h Handle) (netip.Addr, bool) {
	c, _ := l.conn(h)
	if c == nil {
		return netip.Addr{}, false
	}
	return sys.PeerAddr(int(c.FD))
}
