package tlslayer

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

func TestResumption(t *testing.T) {
	srv := testServer(t, false)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		for i, wantResume := range []bool{false, true} {
			cfg := &tls.Config{MinVersion: vers, MaxVersion: vers, ClientSessionCache: cache, ServerName: "localhost"}
			cl, p := pipe(t, srv, cfg)
			handshakeBoth(t, cl, p)
			if cl.ConnectionState().DidResume != wantResume {
				t.Fatalf("version %x connection %d: DidResume = %v, want %v", vers, i, !wantResume, wantResume)
			}
			exchange(t, cl, p, i)
			if vers == tls.VersionTLS13 {
				// the client reads the session ticket only when it reads: make it read
				p.send([]byte("x"))
				readFull(t, cl, 1)
			}
		}
	}
}

// TestSequenceAfterHandshake pins what the trial opening finds: TLS 1.2 sealed and opened
// one record (Finished) under the traffic keys; TLS 1.3 sealed its session ticket(s) and
// opened nothing.
func TestSequenceAfterHandshake(t *testing.T) {
	srv := testServer(t, false)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(1) // TLS 1.3 tickets go only to clients that keep them
		cl, p := pipe(t, srv, &tls.Config{MinVersion: vers, MaxVersion: vers, ClientSessionCache: cache})
		handshakeBoth(t, cl, p)
		if vers == tls.VersionTLS12 && (p.c.in.seq != 1 || p.c.out.seq != 1) {
			t.Errorf("TLS 1.2: seq in %d out %d, want 1 1", p.c.in.seq, p.c.out.seq)
		}
		if vers == tls.VersionTLS13 && (p.c.in.seq != 0 || p.c.out.seq == 0) {
			t.Errorf("TLS 1.3: seq in %d out %d, want 0 and ≥1 (tickets)", p.c.in.seq, p.c.out.seq)
		}
	}
}

func TestRefusesOldVersions(t *testing.T) {
	srv := testServer(t, false)
	cl, p := pipe(t, srv, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	go cl.Handshake()
	err := p.handshake()
	if err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("handshake with a TLS 1.1 client: %v, want a version error", err)
	}
}

func TestNotAClientHello(t *testing.T) {
	srv := testServer(t, false)
	for _, in := range []string{"GET / HTTP/1.1\r\n", "\x16\x02", "\x16\x03\x01\x00\x05\x02abcd", "\x17\x03\x03\x00\x01x"} {
		var c Conn
		_, _, err := c.Handshake(srv, []byte(in), nil)
		if !errors.Is(err, ErrNotTLS) {
			t.Errorf("Handshake(%q) = %v, want ErrNotTLS", in, err)
		}
		if c.hs != nil {
			t.Errorf("Handshake(%q) started a handshake", in)
		}
	}
}

// TestRequestCoalescedWithFinished: the client's first request often travels in the same
// segment as its Finished (TLS 1.3, and resumed TLS 1.2 where the client's Finished is the
// last handshake message); the handshake must leave it to the record layer.
func TestRequestCoalescedWithFinished(t *testing.T) {
	srv := testServer(t, false)
	const req = "GET /sub HTTP/1.1\r\n\r\n"
	for _, vers := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cache := tls.NewLRUClientSessionCache(1)
		cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers, ClientSessionCache: cache, ServerName: "localhost"}
		if vers == tls.VersionTLS12 { // prime the ticket: the resumed handshake ends with the client
			cl, p := pipe(t, srv, cfg.Clone())
			handshakeBoth(t, cl, p)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		// A client whose writes after its ClientHello are held until the request is written:
		// its last flight and the request reach the server in one write.
		go func() {
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			bc := &batchConn{Conn: nc}
			cl := tls.Client(bc, cfg)
			cl.Handshake()
			cl.Write([]byte(req))
			bc.flush()
			io.Copy(io.Discard, cl)
		}()
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		p := &peer{t: t, srv: srv, nc: sc, rbuf: make([]byte, 64<<10)}
		if err := p.handshake(); err != nil {
			t.Fatal(err)
		}
		if len(p.carry) == 0 {
			t.Fatalf("version %x: nothing left after the handshake: the request was not coalesced", vers)
		}
		if err := p.readN(len(req)); err != nil {
			t.Fatal(err)
		}
		if string(p.plain) != req {
			t.Fatalf("plaintext %q", p.plain)
		}
		sc.Close()
	}
}

// batchConn holds a client's writes after its first flight until flush, so the handshake's
// last flight and the first request leave together.
type batchConn struct {
	net.Conn
	hold    bool
	flights int
	buf     []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.flights++
	if b.flights == 1 {
		return b.Conn.Write(p) // ClientHello
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) flush() { b.Conn.Write(b.buf); b.buf = nil }

// TestOpenSSLSuites13 covers the TLS 1.3 suites crypto/tls clients cannot be made to pick,
// with OpenSSL's s_client as the standard peer, and a KeyUpdate it sends on request ("K":
// update_requested, which our layer must answer).
func TestOpenSSLSuites13(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (Debian package openssl)")
	}
	srv := testServer(t, false)
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cmd := exec.Command("openssl", "s_client", "-connect", ln.Addr().String(), "-tls1_3", "-ciphersuites", suite)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			defer cmd.Wait()
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			p := &peer{t: t, srv: srv, nc: sc, rbuf: make([]byte, 64<<10)}
			if err := p.handshake(); err != nil {
				t.Fatal(err)
			}
			if got := tls.CipherSuiteName(p.c.CipherSuite()); got != suite {
				t.Fatalf("negotiated %s", got)
			}
			io.WriteString(stdin, "hello\n")
			if err := p.readN(6); err != nil || string(p.plain) != "hello\n" {
				t.Fatalf("read %q, %v", p.plain, err)
			}
			in := p.c.in.secret
			// s_client: "K" sends KeyUpdate(update_requested) and drops the rest of that read
			// of stdin, so the next line waits until the KeyUpdate arrived.
			io.WriteString(stdin, "K\n")
			for p.c.in.secret == in {
				if err := p.read(); err != nil {
					t.Fatalf("waiting for s_client's KeyUpdate: %v", err)
				}
				if err := p.open(); err != nil {
					t.Fatal(err)
				}
			}
			io.WriteString(stdin, "after\n")
			p.plain = p.plain[:0]
			if err := p.readN(6); err != nil || string(p.plain) != "after\n" {
				t.Fatalf("read %q, %v", p.plain, err)
			}
			p.send([]byte("PONG-" + suite + "\n"))
			lines := bufio.NewScanner(stdout)
			deadline := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			for lines.Scan() {
				if bytes.Contains(lines.Bytes(), []byte("PONG-"+suite)) {
					return
				}
			}
			t.Fatal("s_client never printed our reply")
		})
	}
}

// TestCloseEndsHandshakeHelper: a handshake given up mid-way (the conn closed) leaves no
// goroutine behind.
func TestCloseEndsHandshakeHelper(t *testing.T) {
	srv := testServer(t, false)
	before := handshakeHelpers()
	hello := clientHelloRecord(t)
	conns := make([]Conn, 50)
	for i := range conns {
		if _, _, err := conns[i].Handshake(srv, hello, nil); err != nil {
			t.Fatal(err)
		}
		if conns[i].hs == nil {
			t.Fatal("no handshake running after a ClientHello")
		}
	}
	if n := handshakeHelpers() - before; n != len(conns) {
		t.Fatalf("%d handshake helpers running, want one per running handshake (%d)", n, len(conns))
	}
	for i := range conns {
		conns[i].Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for handshakeHelpers() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d handshake helpers still running after Close", handshakeHelpers()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// handshakeHelpers counts the goroutines running a handshake helper, by their
// stacks: the package's other tests start and end goroutines of their own
// (s_client pipes, timers) while this one counts.
func handshakeHelpers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("tlslayer.(*handshake).run("))
}

// clientHelloRecord returns a crypto/tls client's first record.
func clientHelloRecord(t *testing.T) []byte {
	t.Helper()
	b, err := tlstest.ClientHello()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAbortAtEveryHandshakeRecord gives up handshakes after each record of the client's
// flights (TLS 1.2: ClientHello, ClientKeyExchange, ChangeCipherSpec, Finished; TLS 1.3:
// ClientHello, ChangeCipherSpec, Finished), many at once, with the client still running:
// under -race it checks that abort (the loop) and the helper share nothing unordered, and
// every helper ends.
func TestAbortAtEveryHandshakeRecord(t *testing.T) {
	srv := testServer(t, false)
	before := handshakeHelpers()
	t.Run("group", func(t *testing.T) {
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for k := 1; k <= 4; k++ {
				for i := range 8 {
					t.Run(fmt.Sprintf("%x/after%d/%d", vers, k, i), func(t *testing.T) {
						t.Parallel()
						abortAfter(t, srv, vers, k)
					})
				}
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for handshakeHelpers() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d handshake helpers still running after their handshakes were given up", handshakeHelpers()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// abortAfter feeds a crypto/tls client's handshake records to our side one at a time and
// closes our Conn after the k-th (or once established, if the client sent fewer).
func abortAfter(t *testing.T, srv *Server, vers uint16, k int) {
	cl, p := pipe(t, srv, &tls.Config{MinVersion: vers, MaxVersion: vers})
	errc := make(chan error, 1)
	go func() { errc <- cl.Handshake() }()
	for fed := 0; fed < k && !p.c.Established(); {
		if len(p.carry) < recordHeaderLen || len(p.carry) < recordHeaderLen+(int(p.carry[3])<<8|int(p.carry[4])) {
			if err := p.read(); err != nil {
				t.Fatalf("read after %d records: %v", fed, err)
			}
			continue
		}
		one := recordHeaderLen + (int(p.carry[3])<<8 | int(p.carry[4]))
		n, out, err := p.c.Handshake(srv, p.carry[:one], nil)
		if err != nil || n != one {
			t.Fatalf("record %d: consumed %d of %d, %v", fed+1, n, one, err)
		}
		p.carry = p.carry[n:]
		p.nc.Write(out)
		fed++
	}
	p.c.Close()
	p.nc.Close()
	<-errc // the client fails (closed) or, past its last flight, succeeded
}

// TestTicketKeys: ticket keys are random per Server (a restarted process resumes nothing it
// did not issue), a new key starts every TicketKeyPeriod, a ticket issued under an older
// key still resumes while that key is among the TicketKeys kept, and not after.
func TestTicketKeys(t *testing.T) {
	cert := testCert(t, false)
	mk := func(period time.Duration, keep int) *Server {
		s, err := NewServer(Options{Certs: NewCerts(cert), TicketKeyPeriod: period, TicketKeys: keep})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk(0, 0), mk(0, 0)
	if a.ticketKeys[0] == b.ticketKeys[0] || a.ticketKeys[0] == ([32]byte{}) {
		t.Fatal("two servers start with the same (or a zero) ticket key")
	}
	const period = time.Second
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x", vers), func(t *testing.T) {
			t.Parallel()
			cache := tls.NewLRUClientSessionCache(4)
			if resumes(t, a, vers, cache) || !resumes(t, a, vers, cache) {
				t.Fatal("a second connection to the same server did not resume")
			}
			if resumes(t, b, vers, cache) {
				t.Fatal("another server (process) resumed a session it did not issue")
			}

			s := mk(period, 3)
			cache = tls.NewLRUClientSessionCache(4)
			resumes(t, s, vers, cache) // a ticket under the first key
			first := s.ticketKeys[0]
			time.Sleep(period + 200*time.Millisecond)
			if !resumes(t, s, vers, cache) {
				t.Fatal("a ticket from one period ago (key still kept) did not resume")
			}
			if s.ticketKeys[0] == first || s.ticketKeys[1] != first {
				t.Fatal("no new ticket key after a period")
			}

			old := tls.NewLRUClientSessionCache(4)
			resumes(t, s, vers, old) // a ticket under the current key
			time.Sleep(3*period + 200*time.Millisecond)
			if resumes(t, s, vers, old) {
				t.Fatal("a ticket from over TicketKeys periods ago resumed")
			}
		})
	}
}

// resumes connects a crypto/tls client using cache to srv, makes sure it received its
// session ticket, and reports whether the handshake resumed a session.
func resumes(t *testing.T, srv *Server, vers uint16, cache tls.ClientSessionCache) bool {
	t.Helper()
	cl, p := pipe(t, srv, &tls.Config{MinVersion: vers, MaxVersion: vers, ClientSessionCache: cache, ServerName: "localhost"})
	handshakeBoth(t, cl, p)
	if vers == tls.VersionTLS13 {
		p.send([]byte("x")) // the client takes the ticket only when it reads
		readFull(t, cl, 1)
	}
	return cl.ConnectionState().DidResume
}
