package tlslayer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
)

// TestStateMoves: a connection exported mid-stream (the client's message half read, an
// incomplete record carried) and imported into a fresh Conn of another Server keeps talking
// to the same crypto/tls client both ways, for every suite, with TLS 1.3 KeyUpdates both
// before the move (the secrets carried are the current ones) and after it.
func TestStateMoves(t *testing.T) {
	servers := map[bool]*Server{false: testServer(t, false), true: testServer(t, true)}
	for _, sc := range suiteCases() {
		t.Run(sc.String(), func(t *testing.T) {
			t.Parallel()
			stateMoves(t, servers[sc.rsa], testServer(t, sc.rsa), sc)
		})
	}
}

func stateMoves(t *testing.T, old, next *Server, sc suiteCase) {
	cl, p := pipe(t, old, sc.clientConfig())
	handshakeBoth(t, cl, p)
	exchange(t, cl, p, 0)
	if sc.vers == tls.VersionTLS13 {
		keyUpdateBoth(t, cl, p, 1)
	}
	// Mid-stream: the client sends 70,000 bytes; the old side reads one socket read of them.
	msg := pattern(70000, 9)
	errc := make(chan error, 1)
	go func() { _, err := cl.Write(msg); errc <- err }()
	p.plain = p.plain[:0]
	if err := p.read(); err != nil {
		t.Fatal(err)
	}
	if err := p.open(); err != nil {
		t.Fatal(err)
	}
	state, err := p.c.AppendState(nil, old)
	if err != nil {
		t.Fatalf("AppendState: %v", err)
	}
	// The new side: a fresh Conn of another Server, the socket, the carry and the plaintext
	// read so far.
	q := &peer{t: t, srv: next, nc: p.nc, carry: p.carry, plain: p.plain, rbuf: make([]byte, 64<<10)}
	t.Cleanup(func() { q.c.Close() })
	if err := q.c.SetState(state, next); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	if q.c.Version() != p.c.Version() || q.c.CipherSuite() != p.c.CipherSuite() {
		t.Fatalf("moved %x/%x; was %x/%x", q.c.Version(), q.c.CipherSuite(), p.c.Version(), p.c.CipherSuite())
	}
	p.c.Close() // the old side is gone: nothing of it is used from here
	if err := q.readN(len(msg)); err != nil {
		t.Fatalf("reading the rest after the move: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.plain, msg) {
		t.Fatalf("read %d bytes across the move that differ from the %d written", len(q.plain), len(msg))
	}
	exchange(t, cl, q, 2)
	if sc.vers == tls.VersionTLS13 {
		keyUpdateBoth(t, cl, q, 3)
	}
}

// keyUpdateBoth sends our KeyUpdate asking for the client's, and checks that both sides moved
// on to new keys and still talk.
func keyUpdateBoth(t *testing.T, cl *tls.Conn, p *peer, seed int) {
	t.Helper()
	in, out := p.c.in.secret, p.c.out.secret
	var gs stackGCM
	if _, err := p.nc.Write(p.c.appendKeyUpdate(nil, true, p.c.stackFor(&gs))); err != nil {
		t.Fatal(err)
	}
	exchange(t, cl, p, seed)
	if p.c.in.secret == in || p.c.out.secret == out {
		t.Fatal("a KeyUpdate did not move the keys")
	}
}

// TestStateRoundTrip: SetState(AppendState) gives the same Keys, a pending KeyUpdate and the
// ALPN protocol included; a Conn not established has no state to give.
func TestStateRoundTrip(t *testing.T) {
	srv, err := NewServer(Options{Certs: NewCerts(testCert(t, false)), NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range fuzzSuites {
		c, _ := fixedConn(si)
		c.in.seq, c.out.seq = 12345, 1<<40
		c.alpn = 2
		if c.vers == tls.VersionTLS13 {
			c.flags |= flagKeyUpdateDue
		}
		b, err := c.AppendState(nil, srv)
		if err != nil {
			t.Fatalf("suite %d: AppendState: %v", si, err)
		}
		var d Conn
		if err := d.SetState(b, srv); err != nil {
			t.Fatalf("suite %d: SetState: %v", si, err)
		}
		want := *c.Keys
		got := *d.Keys
		want.in.nonce, want.out.nonce, want.in.aad, want.out.aad = [12]byte{}, [12]byte{}, [13]byte{}, [13]byte{}
		got.in.nonce, got.out.nonce, got.in.aad, got.out.aad = want.in.nonce, want.out.nonce, want.in.aad, want.out.aad
		if got != want {
			t.Fatalf("suite %d: SetState(AppendState) = %+v; want %+v", si, got, want)
		}
		if p := srv.NegotiatedProtocol(&d); p != "http/1.1" {
			t.Fatalf("ALPN after the move %q; want http/1.1", p)
		}
	}
	var fresh Conn
	fresh.keys()
	if _, err := fresh.AppendState(nil, srv); !errors.Is(err, ErrState) {
		t.Fatalf("AppendState of a Conn not established = %v; want ErrState", err)
	}
}

// TestStateRefused: bytes that do not describe a connection (truncated, extended, another
// layout, an unknown suite, a suite of the other version, an ALPN protocol this Server does
// not offer) are ErrState, and leave the Conn as it was.
func TestStateRefused(t *testing.T) {
	srv := testServer(t, false) // offers http/1.1 only
	c, _ := fixedConn(0)
	good, err := c.AppendState(nil, srv)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":      nil,
		"layout":     mutate(func(b []byte) []byte { b[0] = 9; return b }),
		"suite":      mutate(func(b []byte) []byte { b[3], b[4] = 0, 5; return b }),
		"version":    mutate(func(b []byte) []byte { b[2] = 3; return b }), // 1.2 with a 1.3 suite
		"flags":      mutate(func(b []byte) []byte { b[5] = 0x80; return b }),
		"alpn":       mutate(func(b []byte) []byte { return append(append(b[:6:6], 2, 'h', '2'), b[7:]...) }),
		"alpn-short": mutate(func(b []byte) []byte { b[6] = 200; return b }),
		"extended":   append(append([]byte(nil), good...), 0),
	}
	for i := 0; i < len(good); i++ {
		cases[fmt.Sprintf("truncated-%d", i)] = good[:i]
	}
	for name, b := range cases {
		d, _ := fixedConn(2)
		before := *d.Keys
		if err := d.SetState(b, srv); !errors.Is(err, ErrState) {
			t.Fatalf("%s: SetState = %v; want ErrState", name, err)
		}
		if *d.Keys != before {
			t.Fatalf("%s: a refused state changed the Conn", name)
		}
	}
}

// FuzzSetState: any bytes are a state or ErrState, never a panic; a state taken re-encodes
// to the same bytes.
func FuzzSetState(f *testing.F) {
	srv, err := NewServer(Options{Certs: NewCerts(testCert(f, false)), NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, si := range fuzzSuites {
		c, _ := fixedConn(si)
		c.alpn = 1
		b, _ := c.AppendState(nil, srv)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Conn
		if err := c.SetState(b, srv); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("SetState = %v; want ErrState", err)
			}
			return
		}
		again, err := c.AppendState(nil, srv)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, %v; took %x", again, err, b)
		}
	})
}
