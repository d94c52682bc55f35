package tlslayer

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"testing"
)

// The differential test: every record our layer writes is read by a crypto/tls client, and
// every record a crypto/tls client writes is read by our layer, for each TLS 1.2 suite and
// TLS 1.3, with KeyUpdates both ways; once with the AEADs a busy connection keeps, once as
// a connection idle before every record (stackGCM for AES-GCM).

var messageSizes = []int{1, 100, 16383, 16384, 16385, 70000}

type suiteCase struct {
	vers  uint16
	suite uint16 // TLS 1.2 suite to offer; 0 = crypto/tls's TLS 1.3 choice
	rsa   bool
}

func suiteCases() []suiteCase {
	return []suiteCase{
		{vers: tls.VersionTLS13},
		{vers: tls.VersionTLS13, rsa: true},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false},
		{tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
	}
}

func (sc suiteCase) clientConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: sc.vers, MaxVersion: sc.vers}
	if sc.suite != 0 {
		cfg.CipherSuites = []uint16{sc.suite}
	}
	return cfg
}

func (sc suiteCase) String() string {
	if sc.suite == 0 {
		return fmt.Sprintf("TLS1.3/rsa=%v", sc.rsa)
	}
	return tls.CipherSuiteName(sc.suite)
}

func TestDifferential(t *testing.T) {
	servers := map[bool]*Server{false: testServer(t, false), true: testServer(t, true)}
	for _, sc := range suiteCases() {
		for _, cold := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/cold=%v", sc, cold), func(t *testing.T) {
				t.Parallel()
				differential(t, servers[sc.rsa], sc, cold)
			})
		}
	}
}

func differential(t *testing.T, srv *Server, sc suiteCase, cold bool) {
	cl, p := pipe(t, srv, sc.clientConfig())
	handshakeBoth(t, cl, p)
	p.cold = cold
	st := cl.ConnectionState()
	if p.c.Version() != st.Version || p.c.CipherSuite() != st.CipherSuite {
		t.Fatalf("server sees %x/%x, client %x/%x", p.c.Version(), p.c.CipherSuite(), st.Version, st.CipherSuite)
	}
	if got := p.srv.NegotiatedProtocol(&p.c); got != st.NegotiatedProtocol {
		t.Fatalf("ALPN: server %q, client %q", got, st.NegotiatedProtocol)
	}
	exchange(t, cl, p, 0)
	if sc.vers == tls.VersionTLS13 {
		// Ours: a KeyUpdate asking for the client's; crypto/tls answers with its own,
		// which our layer must follow.
		inSecret := p.c.in.secret
		var gs stackGCM
		p.chill()
		out := p.c.appendKeyUpdate(nil, true, p.c.stackFor(&gs))
		if _, err := p.nc.Write(out); err != nil {
			t.Fatal(err)
		}
		exchange(t, cl, p, 1)
		if p.c.in.secret == inSecret {
			t.Fatal("the client's KeyUpdate did not move our read key")
		}
		exchange(t, cl, p, 2)
	}
}

// exchange sends every message size both ways and checks what arrives.
func exchange(t *testing.T, cl *tls.Conn, p *peer, seed int) {
	t.Helper()
	for _, n := range messageSizes {
		msg := pattern(n, seed+n)
		errc := make(chan error, 1)
		go func() { _, err := cl.Write(msg); errc <- err }()
		p.plain = p.plain[:0]
		if err := p.readN(n); err != nil {
			t.Fatalf("server read of %d bytes: %v", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("client write: %v", err)
		}
		if !bytes.Equal(p.plain, msg) {
			t.Fatalf("server read %d bytes that differ from the %d the client wrote", len(p.plain), n)
		}
		p.send(msg)
		if got := readFull(t, cl, n); !bytes.Equal(got, msg) {
			t.Fatalf("client read %d bytes that differ from what the server sealed", n)
		}
	}
}
