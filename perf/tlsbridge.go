package perf

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Subscribers over TLS (Target.TLS): the worker's epoll loop stays as it is, reading
// plaintext from its end of a socketpair, while a bridge (two goroutines and crypto/tls) owns
// the TCP connection to the edge: it handshakes, then carries the request in and the stream
// out. The load side thus pays crypto/tls and a copy per subscriber, the server what it pays
// for a TLS client; a bridged subscriber takes three descriptors (see perWorkerTLS).

// perWorkerTLS bounds the subscribers per worker over TLS: three descriptors each under the
// 20,000 open-files limit (each connection over HTTP/2, whatever its streams).
const perWorkerTLS = 6000

// tlsBridgeConfig is the client side: any certificate, HTTP/1.1 (or h2 alone when h2: the
// worker speaks HTTP/2 through the bridge, see h2worker.go), a session cache so a reconnect
// resumes.
func tlsBridgeConfig(n int, h2 bool) *tls.Config {
	proto := "http/1.1"
	if h2 {
		proto = "h2"
	}
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto},
		ClientSessionCache: tls.NewLRUClientSessionCache(n)}
}

// dialTLSBridge returns the worker's end of a socketpair (non-blocking) whose other end a
// bridge to a TLS connection to edge serves. A failed dial or handshake closes the bridge's
// end: the worker reads EOF where it waits for the response head.
func dialTLSBridge(edge, sourceIP string, cfg *tls.Config) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socketpair", err)
	}
	peer := os.NewFile(uintptr(fds[1]), "tlsbridge") // non-blocking: served by the runtime poller
	go bridge(peer, edge, sourceIP, cfg)
	return fds[0], nil
}

func bridge(peer *os.File, edge, sourceIP string, cfg *tls.Config) {
	defer peer.Close()
	d := &net.Dialer{Timeout: 60 * time.Second}
	if sourceIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sourceIP)}
	}
	tc, err := tls.DialWithDialer(d, "tcp", edge, cfg)
	if err != nil {
		return
	}
	if cfg.NextProtos[0] == "h2" && tc.ConnectionState().NegotiatedProtocol != "h2" {
		tc.Close() // a server that did not pick h2 would read the preface as a bad request
		return
	}
	go func() {
		io.Copy(tc, peer) // the request; EOF when the worker closes its end
		tc.Close()
	}()
	io.Copy(peer, tc)
}
