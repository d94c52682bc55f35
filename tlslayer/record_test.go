package tlslayer

import (
	"bytes"
	"crypto/cipher"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
)

// established returns a server Conn after a real handshake with a crypto/tls client of sc's
// kind, and the client-role mirror of it (which seals what that client would and opens what
// the server seals), for tests that need records a crypto/tls client cannot be made to send.
func established(t *testing.T, sc suiteCase) (srv, cli *Conn) {
	t.Helper()
	cl, p := pipe(t, testServer(t, sc.rsa), sc.clientConfig())
	handshakeBoth(t, cl, p)
	c := p.c.clone()
	return &c, mirror(&c)
}

// clientRecords returns what the client-role conn m seals for msgs.
func clientRecords(t *testing.T, m *Conn, msgs ...[]byte) []byte {
	t.Helper()
	var out []byte
	for _, msg := range msgs {
		var err error
		if out, err = m.Seal(out, msg); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestOpenEverySplit feeds a stream of records split at every point (the first part, then
// the carry plus the rest), and byte by byte, and checks the plaintext is the same.
func TestOpenEverySplit(t *testing.T) {
	for _, sc := range suiteCases()[1:5] {
		t.Run(sc.String(), func(t *testing.T) {
			srv, cli := established(t, sc)
			msgs := [][]byte{[]byte("GET /sub HTTP/1.1\r\n\r\n"), {}, pattern(300, 1), []byte("x")}
			stream := clientRecords(t, cli, msgs...)
			want := bytes.Join(msgs, nil)
			for split := 0; split <= len(stream); split++ {
				c := srv.clone()
				c.aead[dirIn] = nil
				got := feedChunks(t, &c, stream[:split], stream[split:])
				if !bytes.Equal(got, want) {
					t.Fatalf("split at %d: got %q", split, got)
				}
			}
			c := srv.clone()
			var chunks [][]byte
			for i := range stream {
				chunks = append(chunks, stream[i:i+1])
			}
			if got := feedChunks(t, &c, chunks...); !bytes.Equal(got, want) {
				t.Fatalf("byte by byte: got %q", got)
			}
		})
	}
}

// feedChunks presents each chunk after the carry of the previous ones, as a loop would.
func feedChunks(t *testing.T, c *Conn, chunks ...[]byte) []byte {
	t.Helper()
	var carry, plain []byte
	for _, ch := range chunks {
		buf := append(carry, ch...)
		n, used, err := c.Open(buf)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		plain = append(plain, buf[:n]...)
		carry = append([]byte(nil), buf[used:]...)
		if len(carry) > MaxRecord {
			t.Fatalf("carry of %d bytes", len(carry))
		}
	}
	if len(carry) != 0 {
		t.Fatalf("%d bytes left over", len(carry))
	}
	return plain
}

// TestForgedRecord flips each byte of a record (header included) in turn: Open must fail,
// deliver the record before it and nothing of the forged one.
func TestForgedRecord(t *testing.T) {
	for _, sc := range suiteCases()[1:5] {
		t.Run(sc.String(), func(t *testing.T) {
			srv, cli := established(t, sc)
			first := clientRecords(t, cli, []byte("good"))
			second := clientRecords(t, cli, []byte("forged payload"))
			for i := range second {
				c := srv.clone()
				c.aead[dirIn] = nil
				buf := append(append([]byte(nil), first...), second...)
				buf[len(first)+i] ^= 0x41
				n, _, err := c.Open(buf)
				if i == 3 || i == 4 {
					// a length change makes the record incomplete or shorter: either Open
					// waits for more bytes, or authentication fails
					if err == nil && n == 4 {
						continue
					}
				}
				if err == nil {
					t.Fatalf("byte %d flipped: no error", i)
				}
				if _, ok := AlertFor(err); !ok {
					t.Fatalf("byte %d flipped: %v names no alert to send", i, err)
				}
				if string(buf[:n]) != "good" {
					t.Fatalf("byte %d flipped: delivered %q", i, buf[:n])
				}
				if _, _, err := c.Open(clientRecords(t, mirror(srv), []byte("more"))); !errors.Is(err, ErrClosed) {
					t.Fatalf("Open after a failure: %v, want ErrClosed", err)
				}
			}
		})
	}
}

func TestAlerts(t *testing.T) {
	for _, sc := range []suiteCase{suiteCases()[0], suiteCases()[2]} {
		srv, cli := established(t, sc)
		c := srv.clone()
		buf := clientRecords(t, cli, []byte("bye"))
		buf = cli.AppendCloseNotify(buf)
		n, _, err := c.Open(buf)
		if err != io.EOF || string(buf[:n]) != "bye" {
			t.Fatalf("%v: data then close_notify: %q, %v; want \"bye\", io.EOF", sc, buf[:n], err)
		}
		srv, cli = established(t, sc)
		c = srv.clone()
		buf = cli.AppendAlert(nil, alertHandshakeFailure)
		if _, _, err := c.Open(buf); err != AlertError(alertHandshakeFailure) {
			t.Fatalf("%v: fatal alert: %v", sc, err)
		}
	}
}

// TestPostHandshakeMessages: a TLS 1.2 ClientHello is refused with no_renegotiation, a
// NewSessionTicket from a client and a stray CCS are unexpected, a KeyUpdate sharing its
// record with more data is refused.
func TestPostHandshakeMessages(t *testing.T) {
	cases := []struct {
		sc    suiteCase
		typ   uint8
		body  []byte
		alert uint8
	}{
		{suiteCases()[2], recordHandshake, []byte{msgClientHello, 0, 0, 2, 3, 3}, alertNoRenegotiation},
		{suiteCases()[2], recordHandshake, []byte{0, 0, 0, 0}, alertUnexpectedMessage}, // HelloRequest
		{suiteCases()[2], recordCCS, []byte{1}, alertUnexpectedMessage},
		{suiteCases()[0], recordHandshake, []byte{msgNewTicket, 0, 0, 1, 0}, alertUnexpectedMessage},
		{suiteCases()[0], recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, 0, 'x'}, alertUnexpectedMessage},
		{suiteCases()[0], recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, 2}, alertDecodeError},
		{suiteCases()[0], recordCCS, []byte{1}, alertUnexpectedMessage},
	}
	for _, tc := range cases {
		srv, cli := established(t, tc.sc)
		c := srv.clone()
		rec := cli.sealRecord(nil, tc.typ, tc.body, nil)
		if tc.sc.vers == tls.VersionTLS12 && tc.typ == recordCCS {
			rec = []byte{recordCCS, 3, 3, 0, 1, 1} // a plaintext CCS
		}
		_, _, err := c.Open(rec)
		if !isLocal(err, tc.alert) {
			t.Errorf("%v type %d %x: %v, want alert %s", tc.sc, tc.typ, tc.body, err, alertName(tc.alert))
		}
	}
}

// TestRecordLimits: a record longer than the version allows is record_overflow, checked on
// its header, before the body arrives; a TLS 1.3 plaintext over 2^14 is record_overflow.
func TestRecordLimits(t *testing.T) {
	srv, cli := established(t, suiteCases()[0])
	c := srv.clone()
	_, _, err := c.Open([]byte{recordAppData, 3, 3, (maxCiphertext13 + 1) >> 8, (maxCiphertext13 + 1) & 0xff})
	if !isLocal(err, alertRecordOverflow) {
		t.Fatalf("long header: %v", err)
	}
	c = srv.clone()
	rec := cli.sealRecord(nil, recordAppData, make([]byte, maxPlaintext+1), nil)
	if _, _, err := c.Open(rec); !isLocal(err, alertRecordOverflow) {
		t.Fatalf("2^14+1 plaintext: %v", err)
	}
}

// TestPadding seals a TLS 1.3 record with zero padding after its inner content type, by hand,
// and checks Open strips it.
func TestPadding(t *testing.T) {
	srv, cli := established(t, suiteCases()[0])
	s := &suites[cli.suite]
	inner := append([]byte("padded"), recordAppData, 0, 0, 0, 0, 0)
	n := len(inner) + tagLen
	hdr := []byte{recordAppData, 3, 3, byte(n >> 8), byte(n)}
	a := cli.aeadFor(dirOut)
	rec := a.Seal(append([]byte(nil), hdr...), cli.out.nonceFor(s, cli.vers, cli.out.seq), inner, hdr)
	c := srv.clone()
	got, _, err := c.Open(rec)
	if err != nil || string(rec[:got]) != "padded" {
		t.Fatalf("Open = %q, %v", rec[:got], err)
	}
	only := append([]byte{}, 0, 0, 0)
	n = len(only) + tagLen
	hdr = []byte{recordAppData, 3, 3, byte(n >> 8), byte(n)}
	rec = a.Seal(append([]byte(nil), hdr...), cli.out.nonceFor(s, cli.vers, cli.out.seq+1), only, hdr)
	if _, _, err := c.Open(rec); !isLocal(err, alertUnexpectedMessage) {
		t.Fatalf("all-padding record: %v", err)
	}
}

// TestSequenceLimits sets the counters near their limits (the test hook is the field): TLS
// 1.3 rekeys before keyUpdateAfter and the peer follows; TLS 1.2 refuses to seal at the
// limit; a read sequence number at its limit fails.
func TestSequenceLimits(t *testing.T) {
	srv, cli := established(t, suiteCases()[0])
	srv.out.seq, cli.in.seq = keyUpdateAfter-1, keyUpdateAfter-1
	before := srv.out.secret
	out, err := srv.Seal(nil, []byte("one"))
	if err == nil {
		out, err = srv.Seal(out, []byte("two"))
	}
	if err != nil || srv.out.secret == before || srv.out.seq != 1 {
		t.Fatalf("TLS 1.3 at the rekey point: %v, seq %d, rekeyed %v", err, srv.out.seq, srv.out.secret != before)
	}
	n, _, err := cli.Open(out)
	if err != nil || string(out[:n]) != "onetwo" {
		t.Fatalf("peer read %q, %v", out[:n], err)
	}

	srv, _ = established(t, suiteCases()[2])
	srv.out.seq = math.MaxUint64 - 1
	if _, err := srv.Seal(nil, []byte("last")); err != nil {
		t.Fatalf("TLS 1.2 last record: %v", err)
	}
	if _, err := srv.Seal(nil, []byte("over")); !errors.Is(err, ErrSeqLimit) {
		t.Fatalf("TLS 1.2 over the limit: %v, want ErrSeqLimit", err)
	}
	srv, cli = established(t, suiteCases()[2])
	srv.in.seq, cli.out.seq = math.MaxUint64, math.MaxUint64
	if _, _, err := srv.Open(cli.sealRecord(nil, recordAppData, []byte("x"), nil)); err == nil {
		t.Fatal("read at the sequence limit: no error")
	}
}

func TestSealAllocs(t *testing.T) {
	for _, sc := range suiteCases()[1:5] {
		srv, _ := established(t, sc)
		msg := pattern(200, 0)
		out := make([]byte, 0, 4096)
		srv.Seal(out, msg) // build the AEAD
		want := 0.0
		if suites[srv.suite].chacha {
			want = chachaSealAllocs
		}
		if n := testing.AllocsPerRun(200, func() { out, _ = srv.Seal(out[:0], msg) }); n != want {
			t.Errorf("%v: Seal allocates %.1f times per record; want %.0f", sc, n, want)
		}
		cli := mirror(srv)
		rec := clientRecords(t, cli, msg)
		buf := make([]byte, len(rec))
		copy(buf, rec)
		c := srv.clone()
		c.Open(buf)
		if n := testing.AllocsPerRun(1, func() { c.Open(buf) }); n != 0 {
			t.Errorf("%v: Open allocates %.1f times", sc, n)
		}
	}
}

// TestIdleDropsAEADs: where stackGCM runs, an AES-GCM connection never builds an AEAD and
// needs no Idle calls; elsewhere Idle keeps the AEADs of a connection used since the last
// call and drops them otherwise. A ChaCha20-Poly1305 AEAD is built once and kept.
func TestIdleDropsAEADs(t *testing.T) {
	for _, sc := range suiteCases()[1:5] {
		srv, cli := established(t, sc)
		chacha := suites[srv.suite].chacha
		out, _ := srv.Seal(nil, []byte("a"))
		switch {
		case chacha:
			if srv.Warm() || srv.aead[dirOut] == nil {
				t.Fatalf("%v: ChaCha20-Poly1305 AEAD not kept, or the conn wants Idle calls", sc)
			}
		case stackGCMOK:
			if srv.Warm() || srv.aead != [2]cipher.AEAD{} {
				t.Fatalf("%v: an AES-GCM conn built an AEAD, or wants Idle calls, with stackGCM", sc)
			}
		default:
			if srv.Idle() || !srv.Warm() {
				t.Fatalf("%v: Idle dropped the AEADs of a connection used since the last call", sc)
			}
			if !srv.Idle() || srv.Warm() || srv.aead[dirOut] != nil {
				t.Fatalf("%v: Idle kept the AEADs of an idle connection", sc)
			}
		}
		srv.Idle()
		srv.Idle()
		out, _ = srv.Seal(out, []byte("b"))
		if n, _, err := cli.Open(out); err != nil || string(out[:n]) != "ab" {
			t.Fatalf("%v: %q, %v; want ab", sc, out[:n], err)
		}
	}
}

// TestColdRecordsAllocateNothing: sealing a heartbeat to, or opening a record from, a
// connection idle for a while (the case of every idle subscriber) allocates nothing and
// builds no AEAD, for the AES-GCM suites (a ChaCha20-Poly1305 AEAD is built once and kept).
func TestColdRecordsAllocateNothing(t *testing.T) {
	if !stackGCMOK {
		t.Skip("no stackGCM on this architecture: a cold AES-GCM record builds the standard library's AEAD")
	}
	for _, sc := range []suiteCase{suiteCases()[1], suiteCases()[2], suiteCases()[3]} {
		srv, cli := established(t, sc)
		out := make([]byte, 0, 4096)
		beat := []byte(":\n\n")
		var sealed []byte
		if n := testing.AllocsPerRun(100, func() {
			srv.Idle()
			srv.Idle()
			out, _ = srv.Seal(out[:0], beat)
			sealed = append(sealed[:0], out...)
			if _, _, err := cli.Open(sealed); err != nil {
				t.Fatal(err)
			}
		}); n != 0 || srv.aead[dirOut] != nil {
			t.Errorf("%v: a cold Seal allocates %.1f times (AEAD built: %v)", sc, n, srv.aead[dirOut] != nil)
		}
		var rec []byte
		if n := testing.AllocsPerRun(100, func() {
			rec, _ = cli.Seal(rec[:0], beat)
			srv.Idle()
			srv.Idle()
			if k, _, err := srv.Open(rec); err != nil || string(rec[:k]) != string(beat) {
				t.Fatalf("cold Open: %q, %v", rec[:k], err)
			}
		}); n != 0 || srv.aead[dirIn] != nil {
			t.Errorf("%v: a cold Open allocates %.1f times (AEAD built: %v)", sc, n, srv.aead[dirIn] != nil)
		}
	}
}

// TestKeysHoldNoPointers: Keys may live outside the Go heap (Bind), so it must never hold a
// pointer the collector would have to see.
func TestKeysHoldNoPointers(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map, reflect.Chan,
			reflect.Func, reflect.String, reflect.UnsafePointer:
			return false
		case reflect.Array:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if !walk(ty.Field(i).Type) {
					t.Errorf("Keys field path through %s.%s holds a pointer", ty.Name(), ty.Field(i).Name)
					return false
				}
			}
		}
		return true
	}
	walk(reflect.TypeOf(Keys{}))
}
