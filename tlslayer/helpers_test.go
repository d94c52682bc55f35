package tlslayer

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

// testCert makes a self-signed certificate for localhost (ECDSA P-256, or RSA-2048).
func testCert(t testing.TB, rsaKey bool) *tls.Certificate {
	t.Helper()
	p, err := tlstest.New("localhost", rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return p.Cert
}

func testServer(t testing.TB, rsaKey bool) *Server {
	t.Helper()
	s, err := NewServer(Options{Certs: NewCerts(testCert(t, rsaKey))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// peer is the server side of one test connection: our Conn over a real loopback socket,
// driven the way a loop drives it (read, Handshake/Open, carry the incomplete record, Seal,
// write).
type peer struct {
	t     testing.TB
	srv   *Server
	nc    net.Conn
	c     Conn
	carry []byte // unconsumed ciphertext
	plain []byte // application data read so far
	eof   bool
	rbuf  []byte
	cold  bool // every Open and Seal finds the connection idle: no AEAD, sealed through stackGCM
}

// chill makes the next Open or Seal that of a connection idle for a while, when p.cold.
func (p *peer) chill() {
	if p.cold {
		p.c.Idle()
		p.c.Idle()
	}
}

// pipe returns a connected pair: a crypto/tls client configured by cfg (not yet handshaken)
// and our server peer.
func pipe(t testing.TB, srv *Server, cfg *tls.Config) (*tls.Conn, *peer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, srv: srv, nc: sc, rbuf: make([]byte, 64<<10)}
	t.Cleanup(func() { cc.Close(); sc.Close(); p.c.Close() })
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.InsecureSkipVerify = true
	return tls.Client(cc, cfg), p
}

// read reads once from the socket into the carry.
func (p *peer) read() error {
	p.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := p.nc.Read(p.rbuf)
	p.carry = append(p.carry, p.rbuf[:n]...)
	return err
}

// handshake runs our side of the handshake to its end.
func (p *peer) handshake() error {
	for !p.c.Established() {
		if err := p.read(); err != nil {
			return err
		}
		n, out, err := p.c.Handshake(p.srv, p.carry, nil)
		p.carry = p.carry[n:]
		if len(out) > 0 {
			if _, werr := p.nc.Write(out); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// open runs Open over the carry, keeping the plaintext and any incomplete record.
func (p *peer) open() error {
	buf := append([]byte(nil), p.carry...)
	p.chill()
	plain, used, err := p.c.Open(buf)
	p.plain = append(p.plain, buf[:plain]...)
	p.carry = p.carry[used:]
	if p.c.WantWrite() {
		p.send(nil)
	}
	return err
}

// readN reads until n bytes of application data arrived.
func (p *peer) readN(n int) error {
	if err := p.open(); err != nil {
		return err
	}
	for len(p.plain) < n {
		if err := p.read(); err != nil {
			return err
		}
		if err := p.open(); err != nil {
			return err
		}
	}
	return nil
}

// send seals b and writes the records.
func (p *peer) send(b []byte) {
	p.t.Helper()
	p.chill()
	out, err := p.c.Seal(nil, b)
	if err != nil {
		p.t.Fatalf("Seal: %v", err)
	}
	if _, err := p.nc.Write(out); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// handshakeBoth runs both sides' handshakes.
func handshakeBoth(t testing.TB, cl *tls.Conn, p *peer) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- cl.Handshake() }()
	if err := p.handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
}

// readFull reads n bytes from the client.
func readFull(t testing.TB, cl *tls.Conn, n int) []byte {
	t.Helper()
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(cl, b); err != nil {
		t.Fatalf("client read %d bytes: %v", n, err)
	}
	return b
}

// pattern returns n bytes of a recognisable pattern.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// mirror returns a Conn playing the client: its write keys are c's read keys and the other
// way round, at the same sequence numbers.
func mirror(c *Conn) *Conn {
	k := *c.Keys
	k.in, k.out = c.out, c.in
	return &Conn{Keys: &k}
}

// clone returns a copy of c with Keys of its own (sharing the built AEADs, which hold no
// state), to replay the same records into.
func (c *Conn) clone() Conn {
	k := *c.Keys
	n := *c
	n.Keys = &k
	return n
}

func isLocal(err error, alert uint8) bool {
	var le *LocalError
	return errors.As(err, &le) && le.Alert == alert
}
