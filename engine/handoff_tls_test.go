package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// TestAdoptTLSConn: a TLS 1.2 and a TLS 1.3 conn move to another engine mid-request: output
// queued as plaintext before the export is sealed by the old engine and written by the new
// one, the plaintext the handler left in the carry and the client's next records are read on
// the new engine, answers the new engine seals reach the client: the crypto/tls client sees
// one connection. A state that does not describe a connection is refused, and its slot stays
// free for the real one.
func TestAdoptTLSConn(t *testing.T) {
	srv := newTLSServer(t)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(vers), func(t *testing.T) { adoptTLSConn(t, srv, vers) })
	}
}

func adoptTLSConn(t *testing.T, srv *tlslayer.Server, vers uint16) {
	var opened lastOpened
	lines := func(l *Loop, h Handle, in []byte) int {
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			return i + 1
		}
		return 0 // an unfinished line stays in the carry
	}
	fa := &funcHandler{open: opened.record, data: lines}
	a, err := New(Config{Loops: 1}, fa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	addr, err := a.ListenTLS("127.0.0.1:0", 7, srv)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	c := dialTLS(t, addr.String(), vers)
	defer c.Close()
	c.Write([]byte("par"))
	h := opened.wait(t)
	waitFor(t, "the plaintext in the carry", 5*time.Second, func() bool {
		var carry []byte
		var err error
		onLoop(a, fa, func(l *Loop) {
			if _, err = l.Detach(h); err == nil {
				_, carry, _, err = l.Export(nil, nil, nil, h)
				l.Reattach(h)
			}
		})
		return err == nil && len(carry) == 3
	})
	var fd int
	var pending, carry, state []byte
	onLoop(a, fa, func(l *Loop) {
		l.Write(h, []byte("written before the move\n"))
		if fd, err = l.Detach(h); err != nil {
			t.Errorf("Detach(TLS conn) = %v", err)
		}
		if pending, carry, state, err = l.Export(nil, nil, nil, h); err != nil {
			t.Errorf("Export(TLS conn) = %v", err)
		}
	})
	if bytes.Contains(pending, []byte("written")) || len(pending) == 0 {
		t.Fatalf("pending output %q: want sealed records", pending)
	}

	var mu sync.Mutex
	var got []byte
	fb := &funcHandler{}
	fb.data = func(l *Loop, hh Handle, in []byte) int {
		mu.Lock()
		got = append(got[:0], in...)
		mu.Unlock()
		n := lines(l, hh, in)
		if n > 0 {
			l.Write(hh, []byte("answered by the new engine\n"))
		}
		return n
	}
	b, err := New(Config{Loops: 1}, fb)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	bad := append([]byte(nil), state...)
	bad[6]++ // the record layer's version: no such suite for it
	dup1, _ := unix.Dup(fd)
	if err := b.AdoptTLSConn(h, dup1, srv, bad, pending, carry); !errors.Is(err, tlslayer.ErrState) {
		t.Errorf("AdoptTLSConn(corrupt state) = %v; want tlslayer.ErrState", err)
	}
	dup2, _ := unix.Dup(fd)
	if err := b.AdoptTLSConn(h, dup2, srv, state, pending, carry); err != nil {
		t.Fatalf("AdoptTLSConn after a refused one = %v", err)
	}
	a.Stop()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	readExactly(t, c, "written before the move\n")
	c.Write([]byte("tial\n"))
	readExactly(t, c, "answered by the new engine\n")
	mu.Lock()
	defer mu.Unlock()
	if string(got) != "partial\n" {
		t.Errorf("the new engine read %q; want the carried plaintext and the rest: partial\\n", got)
	}
}
