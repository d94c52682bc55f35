package engine

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

func TestPeerAddrIsTheClientAddress(t *testing.T) {
	t.Parallel()
	h := &funcHandler{data: func(l *Loop, h Handle, in []byte) int {
		a, ok := l.PeerAddr(h)
		if !ok {
			l.Write(h, []byte("none\n"))
		} else {
			l.Write(h, []byte(a.String()+"\n"))
		}
		return len(in)
	}}
	_, addr := startEngine(t, Config{Loops: 1}, h)
	c := dial(t, addr)
	defer c.Close()
	c.Write([]byte("x"))
	want := netip.MustParseAddrPort(c.LocalAddr().String()).Addr().String() + "\n"
	got := make([]byte, len(want))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("PeerAddr answered %q (%v); want %q", got, err, want)
	}
}
