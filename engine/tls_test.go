package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer"
	"github.com/pushwire/pushwire/tlslayer/tlstest"
	"golang.org/x/sys/unix"
)

// newTLSServer makes a tlslayer.Server with a fresh certificate for "engine".
func newTLSServer(t testing.TB) *tlslayer.Server {
	t.Helper()
	pair, err := tlstest.New("engine", false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tlslayer.NewServer(tlslayer.Options{Certs: tlslayer.NewCerts(pair.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// startTLSEngine starts an engine with one TLS listener on 127.0.0.1:0.
func startTLSEngine(t testing.TB, cfg Config, h Handler) (*Engine, string) {
	t.Helper()
	srv := newTLSServer(t)
	e, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.ListenTLS("127.0.0.1:0", 7, srv)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e, addr.String()
}

func dialTLS(t testing.TB, addr string, vers uint16) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
	if err != nil {
		t.Fatalf("tls.Dial: %v", err)
	}
	return c
}

// TestTLSLines: the line handler of the plaintext tests, unchanged, over TLS 1.2 and 1.3:
// requests split over records and reads, answers sealed at the flush.
func TestTLSLines(t *testing.T) {
	t.Parallel()
	lh := newLineHandler()
	_, addr := startTLSEngine(t, Config{Loops: 2}, lh)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c := dialTLS(t, addr, vers)
		var want bytes.Buffer
		for i := range 300 {
			line := bytes.Repeat([]byte{'a' + byte(i%26)}, i*37%20000)
			line = append(line, '\n')
			// two writes: the line is split over two records
			c.Write(line[:len(line)/2])
			c.Write(line[len(line)/2:])
			up := append([]byte(nil), line...)
			up[0] = bytes.ToUpper(up[:1])[0]
			want.WriteString("ok ")
			want.Write(up)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got := make([]byte, want.Len())
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("version %x: read: %v", vers, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("version %x: answers differ", vers)
		}
		c.Close()
	}
}

// TestTLSBroadcastWriteRef: one shared frame written by reference to many TLS conns from a
// task is sealed per conn; each reads it.
func TestTLSBroadcastWriteRef(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var conns []Handle
	fh := &funcHandler{}
	fh.data = func(l *Loop, h Handle, in []byte) int {
		mu.Lock()
		conns = append(conns, h)
		mu.Unlock()
		l.Write(h, []byte("registered\n"))
		return len(in)
	}
	frame := bytes.Repeat([]byte("frame "), 2000)
	fh.task = func(l *Loop, task Task) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range conns {
			if h.Loop() == l.Index() {
				l.WriteRef(h, frame)
			}
		}
	}
	e, addr := startTLSEngine(t, Config{Loops: 2}, fh)
	const n = 40
	var cs []*tls.Conn
	for range n {
		c := dialTLS(t, addr, tls.VersionTLS13)
		defer c.Close()
		c.Write([]byte("sub\n"))
		readExactly(t, c, "registered\n")
		cs = append(cs, c)
	}
	for k := range e.Loops() {
		e.Submit(k, Task{})
	}
	for _, c := range cs {
		readExactly(t, c, string(frame))
	}
	if s := e.Stats(); s.TLSHandshakes != n {
		t.Fatalf("TLSHandshakes = %d, want %d", s.TLSHandshakes, n)
	}
}

func readExactly(t testing.TB, c *tls.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != want {
		t.Fatalf("read %.40q..., want %.40q...", got, want)
	}
}

// TestTLSNotAClientHello: plaintext HTTP on the TLS port is closed before OnData and counted.
func TestTLSNotAClientHello(t *testing.T) {
	t.Parallel()
	var datas atomic.Int64
	fh := &funcHandler{data: func(l *Loop, h Handle, in []byte) int { datas.Add(1); return len(in) }}
	e, addr := startTLSEngine(t, Config{Loops: 1}, fh)
	c := dial(t, addr)
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 10)); err == nil {
		t.Fatalf("read %d bytes from a conn that sent plaintext", n)
	}
	waitFor(t, "the handshake error count", 5*time.Second, func() bool { return e.Stats().TLSHandshakeErrors == 1 })
	if datas.Load() != 0 {
		t.Fatal("OnData ran for a conn that never finished a handshake")
	}
}

// TestTLSRefusesTLS11: a TLS 1.1 client gets a protocol_version alert.
func TestTLSRefusesTLS11(t *testing.T) {
	t.Parallel()
	e, addr := startTLSEngine(t, Config{Loops: 1}, &funcHandler{})
	_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("protocol version")) {
		t.Fatalf("TLS 1.1 dial: %v, want a protocol version alert", err)
	}
	waitFor(t, "the handshake error count", 5*time.Second, func() bool { return e.Stats().TLSHandshakeErrors == 1 })
}

// flipConn flips one byte of the next write once armed: a forged record.
type flipConn struct {
	net.Conn
	armed atomic.Bool
}

func (f *flipConn) Write(p []byte) (int, error) {
	if f.armed.Swap(false) {
		p = append([]byte(nil), p...)
		p[len(p)-3] ^= 1
	}
	return f.Conn.Write(p)
}

// TestTLSForgedRecord: a record that fails authentication closes the conn with an alert and
// none of its bytes reach OnData; the records before it do.
func TestTLSForgedRecord(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []byte
	var closeErr error
	closed := make(chan struct{})
	fh := &funcHandler{
		data: func(l *Loop, h Handle, in []byte) int {
			mu.Lock()
			seen = append(seen, in...)
			mu.Unlock()
			return len(in)
		},
		close: func(l *Loop, h Handle, err error) { mu.Lock(); closeErr = err; mu.Unlock(); close(closed) },
	}
	_, addr := startTLSEngine(t, Config{Loops: 1}, fh)
	for _, vers := range []uint16{tls.VersionTLS13} {
		raw := dial(t, addr)
		fc := &flipConn{Conn: raw}
		c := tls.Client(fc, &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
		if _, err := c.Write([]byte("good")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the good record", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 4 })
		fc.armed.Store(true)
		c.Write([]byte("forged"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 10))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad record MAC")) {
			t.Fatalf("client read after a forged record: %v, want the bad_record_mac alert", err)
		}
		<-closed
		mu.Lock()
		if string(seen) != "good" {
			t.Fatalf("OnData saw %q", seen)
		}
		var le *tlslayer.LocalError
		if closeErr != nil && !errors.As(closeErr, &le) {
			t.Fatalf("OnClose(%v)", closeErr)
		}
		mu.Unlock()
	}
}

// TestTLSSlowConsumer: a TLS client that stops reading is cut as in plaintext.
func TestTLSSlowConsumer(t *testing.T) {
	t.Parallel()
	var target atomic.Uint64
	fh := &funcHandler{data: func(l *Loop, h Handle, in []byte) int { target.Store(uint64(h)); return len(in) }}
	frame := bytes.Repeat([]byte{'x'}, 16<<10)
	fh.tick = func(l *Loop, now time.Time) {
		if h := Handle(target.Load()); h != 0 && h.Loop() == l.Index() {
			for range 8 {
				l.Write(h, frame)
			}
		}
	}
	e, addr := startTLSEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10, TickInterval: 5 * time.Millisecond}, fh)
	c := dialTLS(t, addr, tls.VersionTLS13)
	defer c.Close()
	c.Write([]byte("sub"))
	waitFor(t, "the slow-consumer cut", 20*time.Second, func() bool { return e.Stats().SlowConsumers == 1 })
}

// TestTLSCloseAfterFlushSendsCloseNotify: a conn closed after its answer ends with
// close_notify: the client reads the answer, then the alert (crypto/tls reads a bare FIN as
// io.EOF too, so the last record on the wire is checked: a TLS 1.2 alert record, or a TLS 1.3
// record the size of a sealed two-byte alert).
func TestTLSCloseAfterFlushSendsCloseNotify(t *testing.T) {
	t.Parallel()
	fh := &funcHandler{data: func(l *Loop, h Handle, in []byte) int {
		l.Write(h, []byte("bye\n"))
		l.CloseAfterFlush(h)
		return len(in)
	}}
	_, addr := startTLSEngine(t, Config{Loops: 1}, fh)
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		rc := &recordConn{Conn: dial(t, addr)}
		c := tls.Client(rc, &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if string(b) != "bye\n" || err != nil {
			t.Fatalf("version %x: ReadAll = %q, %v; want \"bye\\n\", nil", vers, b, err)
		}
		typ, n := lastRecord(rc.read)
		if vers == tls.VersionTLS12 && typ != 21 || vers == tls.VersionTLS13 && n != 2+1+16 {
			t.Fatalf("version %x: last record type %d, %d bytes: not a close_notify", vers, typ, n)
		}
		c.Close()
	}
}

// recordConn keeps every byte read.
type recordConn struct {
	net.Conn
	read []byte
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.read = append(r.read, p[:n]...)
	return n, err
}

// lastRecord returns the type and length of the last whole record in b.
func lastRecord(b []byte) (typ byte, n int) {
	for len(b) >= 5 {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < 5+l {
			break
		}
		typ, n = b[0], l
		b = b[5+l:]
	}
	return typ, n
}

// TestTLSIdleConnHoldsOnlyKeys: once a TLS conn has been idle for a while it owns no
// ciphertext buffer, no carry, no queue and no AEAD: only its tlslayer keys.
func TestTLSIdleConnHoldsOnlyKeys(t *testing.T) {
	t.Parallel()
	var target atomic.Uint64
	type state struct{ ct, in, out, warm bool }
	got := make(chan state, 1)
	fh := &funcHandler{
		data: func(l *Loop, h Handle, in []byte) int {
			target.Store(uint64(h))
			l.Write(h, []byte("registered\n"))
			return len(in)
		},
		task: func(l *Loop, task Task) {
			c, _ := l.conn(Handle(target.Load()))
			tc := l.tls.At(c.TLS)
			got <- state{ct: tc.Buffered(), in: c.In != 0, out: c.Out != 0, warm: tc.Warm()}
		},
	}
	e, addr := startTLSEngine(t, Config{Loops: 1, TickInterval: 10 * time.Millisecond}, fh)
	c := dialTLS(t, addr, tls.VersionTLS13)
	defer c.Close()
	c.Write([]byte("sub"))
	readExactly(t, c, "registered\n")
	time.Sleep(2*coolEvery + 100*time.Millisecond)
	e.Submit(0, Task{})
	if s := <-got; s != (state{}) {
		t.Fatalf("idle TLS conn holds %+v; want nothing but keys", s)
	}
}

// tlsDialFDs opens n TLS 1.3 connections (AES-128-GCM), handshakes them with crypto/tls and
// returns duplicates of their sockets for raw reading.
func tlsDialFDs(t testing.TB, addr string, n int) []int {
	t.Helper()
	fds := make([]int, 0, n)
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for range n {
		c := dialTLS(t, addr, tls.VersionTLS13)
		f, err := c.NetConn().(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		c.NetConn().Close()
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	return fds
}

// TestTLSState: OnData can tell a TLS conn's version and ALPN protocol; a plaintext conn
// has none.
func TestTLSState(t *testing.T) {
	t.Parallel()
	type state struct {
		vers uint16
		alpn string
		ok   bool
	}
	got := make(chan state, 2)
	fh := &funcHandler{data: func(l *Loop, h Handle, in []byte) int {
		v, a, ok := l.TLSState(h)
		got <- state{v, a, ok}
		return len(in)
	}}
	_, addr := startTLSEngine(t, Config{Loops: 1}, fh)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	if s := <-got; s != (state{tls.VersionTLS12, "http/1.1", true}) {
		t.Fatalf("TLSState = %+v", s)
	}
	fh2 := &funcHandler{data: fh.data}
	_, plainAddr := startEngine(t, Config{Loops: 1}, fh2)
	pc := dial(t, plainAddr)
	defer pc.Close()
	pc.Write([]byte("x"))
	if s := <-got; s.ok {
		t.Fatalf("TLSState of a plaintext conn = %+v", s)
	}
}

// TestTLSBurstReleasesMemory: once a loop's burst of handshakes (at least releaseAfter of
// them) has been over for a period, the loop has the engine return the free heap to the OS,
// once; a smaller burst does not.
func TestTLSBurstReleasesMemory(t *testing.T) {
	t.Parallel()
	type state struct{ burst, releases int }
	got := make(chan state, 1)
	fh := &funcHandler{task: func(l *Loop, task Task) {
		l.hs.releaseAfter = 5
		got <- state{l.hs.burst, l.hs.releases}
	}}
	e, addr := startTLSEngine(t, Config{Loops: 1, TickInterval: 10 * time.Millisecond}, fh)
	read := func() state { e.Submit(0, Task{}); return <-got }
	read()
	handshakes := func(n int) {
		for range n {
			c := dialTLS(t, addr, tls.VersionTLS13)
			c.Write([]byte("x")) // after the client's Finished: the server's handshake is done once it reads this
			c.Close()
		}
	}
	handshakes(4)
	waitFor(t, "4 handshakes counted", 5*time.Second, func() bool { return read().burst == 4 })
	time.Sleep(2*coolEvery + 200*time.Millisecond)
	if s := read(); s.releases != 0 {
		t.Fatalf("after a burst of 4 (threshold 5): %+v; want no release", s)
	}
	handshakes(2)
	waitFor(t, "the release after a burst of 6", 5*time.Second, func() bool { s := read(); return s.releases == 1 && s.burst == 0 })
	time.Sleep(2*coolEvery + 200*time.Millisecond)
	if s := read(); s.releases != 1 {
		t.Fatalf("a second release with no handshake since: %+v", s)
	}
}
