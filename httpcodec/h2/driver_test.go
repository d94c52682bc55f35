package h2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// driver runs one Conn over a real socket for tests: the part of the
// reactor's loop this package leaves to its caller, written the simple way
// (a goroutine per connection and one for reads; the reactor has neither).
type driver struct {
	c    *Conn
	nc   net.Conn
	out  []byte
	cmds chan func(*driver)
	done chan struct{}
	// onRequest answers a complete request (body read) on stream id.
	onRequest func(d *driver, id uint32, method, path string, body []byte)
	bodies    map[uint32][]byte
	reqs      map[uint32][2]string
}

func serveConn(nc net.Conn, cfg Config, onRequest func(d *driver, id uint32, method, path string, body []byte)) *driver {
	d := &driver{c: NewConn(cfg), nc: nc, cmds: make(chan func(*driver), 16), done: make(chan struct{}),
		onRequest: onRequest, bodies: map[uint32][]byte{}, reqs: map[uint32][2]string{}}
	go d.run()
	return d
}

// do runs f on the driver's goroutine, which owns the Conn.
func (d *driver) do(f func(*driver)) {
	select {
	case d.cmds <- f:
	case <-d.done:
	}
}

func (d *driver) run() {
	defer close(d.done)
	defer d.nc.Close()
	reads := make(chan []byte)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(reads)
		for {
			buf := make([]byte, 16<<10)
			n, err := d.nc.Read(buf)
			if n > 0 {
				reads <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		// A lingering close, as a server must do after GOAWAY (RFC 9113
		// §6.8): shut our side, then read what the peer still sends until it
		// closes. Closing with its bytes unread makes the kernel send RST,
		// which can destroy the GOAWAY before the peer reads it (h2spec 5.4.1
		// failed so once in a loaded run).
		if cw, ok := d.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			d.nc.SetReadDeadline(time.Now().Add(time.Second))
			for range reads {
			}
		}
		d.nc.Close()
		go func() {
			for range reads {
			}
		}()
		wg.Wait()
	}()
	d.out = d.c.Start(d.out[:0])
	if !d.flush() {
		return
	}
	for {
		select {
		case in, ok := <-reads:
			if !ok {
				return
			}
			d.feed(in)
		case f := <-d.cmds:
			f(d)
		}
		if !d.flush() || d.c.Closed() {
			return
		}
	}
}

func (d *driver) feed(in []byte) {
	for {
		var n int
		var ev Event
		d.out, n, ev = d.c.Feed(d.out, in)
		in = in[n:]
		switch ev.Kind {
		case EventNone:
			return
		case EventRequest:
			r := d.c.Request()
			d.reqs[ev.Stream] = [2]string{string(r.Method()), string(r.Target())}
			if ev.EndStream {
				d.complete(ev.Stream)
			}
		case EventData:
			d.bodies[ev.Stream] = append(d.bodies[ev.Stream], ev.Data...)
			if ev.EndStream {
				d.complete(ev.Stream)
			}
		case EventReset:
			delete(d.reqs, ev.Stream)
			delete(d.bodies, ev.Stream)
		}
	}
}

func (d *driver) complete(id uint32) {
	r := d.reqs[id]
	body := d.bodies[id]
	delete(d.reqs, id)
	delete(d.bodies, id)
	d.onRequest(d, id, r[0], r[1], body)
}

func (d *driver) flush() bool {
	if len(d.out) == 0 {
		return true
	}
	_, err := d.nc.Write(d.out)
	d.out = d.out[:0]
	return err == nil
}

// serveLoopback listens on a free loopback port and serves every connection
// through a driver; onConn, when not nil, gets each driver.
func serveLoopback(t *testing.T, cfg Config, onRequest func(d *driver, id uint32, method, path string, body []byte), onConn func(*driver)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveListener(t, ln, cfg, onRequest, onConn)
}

// serveTLSLoopback is serveLoopback over TLS with ALPN "h2" and a
// self-signed certificate for 127.0.0.1.
func serveTLSLoopback(t *testing.T, cfg Config, onRequest func(d *driver, id uint32, method, path string, body []byte)) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"h2"},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	return serveListener(t, ln, cfg, onRequest, nil)
}

func serveListener(t *testing.T, ln net.Listener, cfg Config, onRequest func(d *driver, id uint32, method, path string, body []byte), onConn func(*driver)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			d := serveConn(nc, cfg, onRequest)
			if onConn != nil {
				onConn(d)
			}
		}
	}()
	return ln.Addr().String()
}
