package tlsconn

import (
	"testing"

	"github.com/pushwire/pushwire/engine/connbuf"
	"github.com/pushwire/pushwire/tlslayer"
	"github.com/pushwire/pushwire/tlslayer/tlstest"
	"golang.org/x/sys/unix"
)

func newServer(t *testing.T) *tlslayer.Server {
	t.Helper()
	pair, err := tlstest.New("tlsconn", false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tlslayer.NewServer(tlslayer.Options{Certs: tlslayer.NewCerts(pair.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestTableReuse: states come in pages that never move, a freed one is taken first and
// comes back empty, and a warm entry of a conn put since does not reach the next one.
func TestTableReuse(t *testing.T) {
	srv := newServer(t)
	var tab Table
	defer tab.Release()
	idx := make([]int32, 0, 2*pageLen+1)
	for range 2*pageLen + 1 {
		idx = append(idx, tab.Get(srv))
	}
	first := tab.At(idx[0])
	for k, i := range idx {
		if i != int32(k+1) {
			t.Fatalf("Get #%d = %d; want %d", k, i, k+1)
		}
	}
	if tab.At(idx[0]) != first {
		t.Fatal("state 1 moved when the table grew")
	}
	tab.At(idx[5]).Closed, tab.At(idx[5]).Born = true, 42
	tab.warm = append(tab.warm, warmConn{idx: idx[5], gen: tab.At(idx[5]).gen})
	tab.At(idx[5]).warm = true
	tab.Put(idx[5])
	if got := tab.Get(srv); got != idx[5] {
		t.Fatalf("Get after Put(%d) = %d; want the freed state", idx[5], got)
	}
	if tc := tab.At(idx[5]); tc.Closed || tc.Born != 0 || tc.Buffered() || tc.Established() || tc.warm {
		t.Fatalf("reused state not empty: %+v", tc)
	}
	tab.Cool()
	if tab.Warm() != 0 {
		t.Fatalf("Cool kept %d warm entries; the one left was for a conn put since", tab.Warm())
	}
	for _, i := range idx {
		tab.Put(i)
	}
}

// TestHandshakeFlight: a ClientHello gets the server's flight queued, and WriteTo puts exactly
// those bytes on a socket and gives the buffer back; bytes that are not TLS fail the
// handshake with nothing to seal an alert with.
func TestHandshakeFlight(t *testing.T) {
	srv := newServer(t)
	hello, err := tlstest.ClientHello()
	if err != nil {
		t.Fatal(err)
	}
	var tab Table
	defer tab.Release()
	p := connbuf.NewOutPool()
	idx := tab.Get(srv)
	tc := tab.At(idx)
	used, queued, done, err := tab.Handshake(tc, &p, hello)
	if err != nil || used != len(hello) || queued == 0 || done || !tc.Buffered() {
		t.Fatalf("Handshake(ClientHello) = %d, %d, %v, %v (buffered %v); want %d, >0, false, nil (buffered)",
			used, queued, done, err, tc.Buffered(), len(hello))
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	n, full, err := tc.WriteTo(fds[0], &p)
	if n != queued || full || err != nil || tc.Buffered() {
		t.Fatalf("WriteTo = %d, %v, %v (buffered %v); want %d, false, nil, all written", n, full, err, tc.Buffered(), queued)
	}
	got := make([]byte, queued+1)
	if k, _ := unix.Read(fds[1], got); k != queued || got[0] != 0x16 {
		t.Fatalf("read %d bytes starting % x; want %d starting with a handshake record (16)", k, got[:min(k, 5)], queued)
	}
	tab.Put(idx)

	idx = tab.Get(srv)
	tc = tab.At(idx)
	_, _, done, err = tab.Handshake(tc, &p, []byte("GET / HTTP/1.1\r\n\r\n"))
	if err == nil || done {
		t.Fatalf("Handshake(HTTP) = done %v, %v; want an error", done, err)
	}
	if q := tab.Alert(tc, &p, err); q != 0 || !tc.Closed {
		t.Fatalf("Alert before keys queued %d bytes (Closed %v); want 0, closed", q, tc.Closed)
	}
	if d, err := tc.Seal(&p, nil); d != 0 || err != nil {
		t.Fatalf("Seal with nothing queued = %d, %v; want 0, nil", d, err)
	}
	tab.Put(idx)
}

// TestStateFits: a state's plaintext length must fit the carry it comes with.
func TestStateFits(t *testing.T) {
	for _, tc := range []struct {
		state   []byte
		carried int
		want    bool
	}{
		{nil, 0, false},
		{[]byte{0, 0, 0}, 0, false},
		{[]byte{0, 0, 0, 0}, 0, true},
		{[]byte{5, 0, 0, 0, 9}, 5, true},
		{[]byte{6, 0, 0, 0, 9}, 5, false},
	} {
		if got := StateFits(tc.state, tc.carried); got != tc.want {
			t.Errorf("StateFits(% x, %d) = %v; want %v", tc.state, tc.carried, got, tc.want)
		}
	}
}
