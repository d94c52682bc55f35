package tlslayer

import (
	"bytes"
	"crypto/tls"
	"testing"

	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

// fixedConn returns an established Conn of suite index si with fixed keys, and its
// client-role mirror, for the fuzz target (no handshake: the corpus must stay valid).
func fixedConn(si int) (srv, cli *Conn) {
	s := &suites[si]
	srv = &Conn{Keys: &Keys{suite: uint8(si), vers: s.version, flags: flagEstablished}}
	if s.version == tls.VersionTLS13 {
		srv.in.setTrafficSecret13(s, bytes.Repeat([]byte{1}, s.hashLen()))
		srv.out.setTrafficSecret13(s, bytes.Repeat([]byte{2}, s.hashLen()))
	} else {
		keys12(s, bytes.Repeat([]byte{3}, 48), bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32), &srv.in, &srv.out)
	}
	return srv, mirror(srv)
}

// fuzzSuites are the suite indexes the fuzz target picks from.
var fuzzSuites = []int{0, 1, 2, 3, 5, 7}

// FuzzOpen feeds arbitrary bytes to Open, whole and split in two: no panic, the same
// plaintext and outcome either way, never a carry over MaxRecord. The seeds are valid record
// streams (data, KeyUpdate, close_notify) under fixed keys.
func FuzzOpen(f *testing.F) {
	for k, si := range fuzzSuites {
		_, cli := fixedConn(si)
		var seed []byte
		seed, _ = cli.Seal(seed, []byte("GET /sub HTTP/1.1\r\n\r\n"))
		if cli.vers == tls.VersionTLS13 {
			seed = cli.appendKeyUpdate(seed, true, nil)
		}
		seed, _ = cli.Seal(seed, pattern(100, k))
		seed = cli.AppendCloseNotify(seed)
		f.Add(uint8(k), uint16(7), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, split uint16, data []byte) {
		si := fuzzSuites[int(which)%len(fuzzSuites)]
		whole, _ := fixedConn(si)
		buf := append([]byte(nil), data...)
		n1, used1, err1 := whole.Open(buf)
		if n1 > used1 || used1 > len(buf) {
			t.Fatalf("Open = %d, %d for %d bytes", n1, used1, len(buf))
		}
		if err1 == nil && len(buf)-used1 >= MaxRecord {
			t.Fatalf("left %d bytes unconsumed", len(buf)-used1)
		}
		plain1 := append([]byte(nil), buf[:n1]...)

		parts, _ := fixedConn(si)
		k := int(split) % (len(data) + 1)
		carry, plain2, err2 := feedPart(parts, nil, data[:k])
		if err2 == nil {
			_, p, err := feedPart(parts, carry, data[k:])
			plain2, err2 = append(plain2, p...), err
		}
		if !bytes.Equal(plain1, plain2) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: %q, %v; split at %d: %q, %v", plain1, err1, k, plain2, err2)
		}
	})
}

func feedPart(c *Conn, carry, more []byte) (rest, plain []byte, err error) {
	buf := append(carry, more...)
	n, used, err := c.Open(buf)
	return append([]byte(nil), buf[used:]...), append([]byte(nil), buf[:n]...), err
}

// FuzzHandshake feeds arbitrary bytes, split in two, to a server handshake: no panic, the
// consumed count within bounds, and Close ends any helper it started. Seeds: a real
// ClientHello, cut and whole, and bytes that are not TLS.
func FuzzHandshake(f *testing.F) {
	hello, err := tlstest.ClientHello()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(0), hello)
	f.Add(uint16(9), hello[:40])
	f.Add(uint16(3), []byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(uint16(5), []byte{22, 3, 1, 0x40, 0x01})
	srv, err := NewServer(Options{Certs: NewCerts(testCert(f, false))})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, split uint16, data []byte) {
		var c Conn
		defer c.Close()
		k := int(split) % (len(data) + 1)
		n, _, err := c.Handshake(srv, data[:k], nil)
		if n < 0 || n > k {
			t.Fatalf("consumed %d of %d", n, k)
		}
		if err != nil {
			return
		}
		rest := append(append([]byte(nil), data[n:k]...), data[k:]...)
		m, _, _ := c.Handshake(srv, rest, nil)
		if m < 0 || m > len(rest) {
			t.Fatalf("consumed %d of %d", m, len(rest))
		}
	})
}
