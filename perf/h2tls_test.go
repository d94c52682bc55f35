package perf

import (
	"os"
	"strconv"
	"testing"
)

// HTTP/2 over TLS: the subscribers are streams, 10 to a connection, each connection a
// crypto/tls bridge that negotiated h2 by ALPN; publishes stay plaintext. Every unicast
// and broadcast message must arrive.

// TestPushwireTLSH2EndToEnd runs the short scenarios against pushwire's --tls-listen.
func TestPushwireTLSH2EndToEnd(t *testing.T) {
	target := startPushwireTLS(t)
	target.H2Streams = 10
	runShort(t, target)
}

// TestNchanTLSH2EndToEnd runs them against nginx+Nchan's TLS listener (start.sh with
// TLS_PORT: http2 on, ALPN h2), SSE subscribers: Nchan's EventSource stream works over h2
// for a client that is not a browser (nchan issue #576 is a browser's EventSource).
func TestNchanTLSH2EndToEnd(t *testing.T) {
	certFile, keyFile := testCert(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TLS_PORT", strconv.Itoa(port))
	t.Setenv("TLS_CERT", certFile)
	t.Setenv("TLS_KEY", keyFile)
	s, err := StartNchan("../../shared/peers/nchan/start.sh", ServerConfig{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	target := s.Target
	target.Edge, target.TLS, target.H2Streams = "127.0.0.1:"+strconv.Itoa(port), true, 10
	runShort(t, target)
}
