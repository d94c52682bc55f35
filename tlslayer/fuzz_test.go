package tlslayer

import (
	"bytes"
	"crypto/tls"
	"testing"
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
			seed = cli.appendKeyUpdate(seed, true)
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
