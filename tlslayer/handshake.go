package tlslayer

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"
)

// The handshake is crypto/tls's: tls.Server runs on a short-lived helper goroutine over an
// in-memory net.Conn (hsConn). The loop hands it the client's bytes one whole record at a
// time and waits until it asks for the next one or finishes, so crypto/tls never reads past
// the client's Finished: whatever follows it in the same read (often the first request) is
// the record layer's. The helper never touches the socket: what crypto/tls writes is
// collected and returned to the loop, which owns the socket. When the handshake is done the
// traffic keys come from the key log (tls.Config.KeyLogWriter, per handshake), the helper
// ends, and only the record layer's state stays.

// maxHandshakeBytes bounds what a client may send before its handshake is done.
const maxHandshakeBytes = 64 << 10

// handshake is one running handshake. The helper goroutine and the loop take turns: the loop
// writes cur and signals in, then waits on ev; the helper works until it needs more input or
// ends, then signals ev. The channels order every access to the fields.
type handshake struct {
	srv  *Server
	tc   *tls.Conn
	in   chan []byte   // loop → helper: the next record; closed to abort
	ev   chan struct{} // helper → loop: wants more input, or finished (buffered: never blocks)
	cur  []byte        // the record being read
	fed  []byte        // every record fed (for counting those under the application key)
	done bool          // the helper returned (err set)
	dead bool          // in was closed: reads fail
	err  error
	st   tls.ConnectionState

	written []byte // everything crypto/tls wrote
	taken   int    // written[:taken] has been handed to the loop

	clientSecret, serverSecret []byte // TLS 1.3 application traffic secrets
	master                     []byte // TLS 1.2, from the key log (full handshakes)
	ticketSecret               []byte // from the session ticket the client offered
}

// hsConn is the in-memory net.Conn crypto/tls runs over.
type hsConn struct{ h *handshake }

func (c *hsConn) Read(p []byte) (int, error) {
	h := c.h
	for len(h.cur) == 0 {
		if h.dead {
			return 0, net.ErrClosed
		}
		h.ev <- struct{}{}
		rec, ok := <-h.in
		if !ok {
			h.dead = true
			return 0, net.ErrClosed
		}
		h.cur = rec
	}
	n := copy(p, h.cur)
	h.cur = h.cur[n:]
	return n, nil
}

func (c *hsConn) Write(p []byte) (int, error) {
	c.h.written = append(c.h.written, p...)
	return len(p), nil
}

func (c *hsConn) Close() error                     { return nil }
func (c *hsConn) LocalAddr() net.Addr              { return hsAddr{} }
func (c *hsConn) RemoteAddr() net.Addr             { return hsAddr{} }
func (c *hsConn) SetDeadline(time.Time) error      { return nil }
func (c *hsConn) SetReadDeadline(time.Time) error  { return nil }
func (c *hsConn) SetWriteDeadline(time.Time) error { return nil }

type hsAddr struct{}

func (hsAddr) Network() string { return "tlslayer" }
func (hsAddr) String() string  { return "tlslayer" }

// Write takes the key log lines crypto/tls writes for this handshake (NSS key log format).
func (h *handshake) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return len(line), nil
	}
	secret, err := hex.DecodeString(string(f[2]))
	if err != nil {
		return len(line), nil
	}
	switch string(f[0]) {
	case "CLIENT_TRAFFIC_SECRET_0":
		h.clientSecret = secret
	case "SERVER_TRAFFIC_SECRET_0":
		h.serverSecret = secret
	case "CLIENT_RANDOM":
		h.master = secret
	}
	return len(line), nil
}

// run is the helper goroutine.
func (h *handshake) run() {
	err := h.tc.Handshake()
	if err == nil {
		h.st = h.tc.ConnectionState()
		if len(h.cur) > 0 {
			err = errors.New("tlslayer: bytes after the client's Finished in its record")
		}
	}
	h.err = err
	h.done = true
	h.ev <- struct{}{}
}

// step gives the helper one record and waits until it has used it.
func (h *handshake) step(rec []byte) {
	h.fed = append(h.fed, rec...)
	if h.tc == nil {
		h.cur = h.fed[len(h.fed)-len(rec):]
		h.tc = tls.Server(&hsConn{h: h}, h.srv.base)
		go h.run()
	} else {
		h.in <- h.fed[len(h.fed)-len(rec):]
	}
	<-h.ev
}

// abort ends a handshake the loop gives up on (the connection closed): the helper's next
// read fails and it returns. Reading h.done here is ordered, not a race: the loop calls
// abort only between steps, and every step ends with the loop receiving the helper's ev, sent
// after the helper's last write (done is set before run's send); the helper is then parked
// on in (or returned) until abort closes it (TestAbortAtEveryHandshakeRecord, under -race).
func (h *handshake) abort() {
	if h.tc != nil && !h.done {
		close(h.in)
	}
}

// Handshake feeds the client's bytes in to the handshake and appends what the server sends
// back to out. It consumes whole records only, and none past the client's Finished: once
// Established, in[consumed:] is the record layer's (Open). Bytes that cannot start a TLS
// handshake fail with ErrNotTLS before any helper starts. On a failure out may hold the
// alert crypto/tls sent; the connection is then to be closed once out is written.
func (c *Conn) Handshake(srv *Server, in, out []byte) (consumed int, _ []byte, err error) {
	c.keys()
	if c.flags&flagEstablished != 0 {
		return 0, out, nil
	}
	if c.flags&flagFailed != 0 {
		return 0, out, ErrClosed
	}
	h := c.hs
	for len(in)-consumed > 0 {
		rec := in[consumed:]
		if h == nil && !looksLikeClientHello(rec) {
			c.flags |= flagFailed
			return consumed, out, ErrNotTLS
		}
		if len(rec) < recordHeaderLen {
			break
		}
		n := int(rec[3])<<8 | int(rec[4])
		if n > maxCiphertext12 {
			c.fail()
			return consumed, out, localErr(alertRecordOverflow, "handshake record over the length limit")
		}
		if len(rec) < recordHeaderLen+n {
			break
		}
		if h == nil {
			h = &handshake{srv: srv, in: make(chan []byte), ev: make(chan struct{}, 1)}
			c.hs = h
		}
		if len(h.fed)+recordHeaderLen+n > maxHandshakeBytes {
			c.fail()
			return consumed, out, localErr(alertHandshakeFailure, "handshake over 64 KiB")
		}
		h.step(rec[:recordHeaderLen+n])
		consumed += recordHeaderLen + n
		out = append(out, h.written[h.taken:]...)
		h.taken = len(h.written)
		if h.done {
			c.hs = nil
			if h.err != nil {
				c.flags |= flagFailed
				return consumed, out, fmt.Errorf("tlslayer: handshake: %w", h.err)
			}
			if err := c.establish(h); err != nil {
				c.flags |= flagFailed
				return consumed, out, err
			}
			return consumed, out, nil
		}
	}
	return consumed, out, nil
}

// looksLikeClientHello checks the bytes present of a first record: a handshake record, TLS
// major version 3, whose message is a ClientHello.
func looksLikeClientHello(b []byte) bool {
	return b[0] == recordHandshake && (len(b) < 2 || b[1] == 3) && (len(b) < 6 || b[5] == msgClientHello)
}

// fail ends the connection's handshake, if any, and marks it failed.
func (c *Conn) fail() {
	if c.hs != nil {
		c.hs.abort()
		c.hs = nil
	}
	c.keys().flags |= flagFailed
}

// Close releases the connection's state: a running handshake's helper ends and the keys are
// zeroed (bound Keys stay their owner's memory).
func (c *Conn) Close() {
	if c.hs != nil {
		c.hs.abort()
	}
	if c.Keys != nil {
		*c.Keys = Keys{}
	}
	*c = Conn{}
}

// establish sets up the record layer from the finished handshake h: the traffic keys from
// its key log, and the sequence numbers from the records crypto/tls already protected with
// them (TLS 1.3 NewSessionTickets, TLS 1.2 Finished), found by opening those records.
func (c *Conn) establish(h *handshake) error {
	si := suiteIndex(h.st.CipherSuite)
	if si < 0 || suites[si].version != h.st.Version {
		return localErr(alertInternalError, fmt.Sprintf("negotiated suite %#04x has no record layer", h.st.CipherSuite))
	}
	s := &suites[si]
	c.suite, c.vers = uint8(si), h.st.Version
	switch c.vers {
	case tls.VersionTLS13:
		if len(h.clientSecret) != s.hashLen() || len(h.serverSecret) != s.hashLen() {
			return localErr(alertInternalError, "no TLS 1.3 traffic secrets in the key log")
		}
		c.in.setTrafficSecret13(s, h.clientSecret)
		c.out.setTrafficSecret13(s, h.serverSecret)
	default:
		master := h.master
		if master == nil && h.st.DidResume {
			master = h.ticketSecret
		}
		sr, ok1 := helloRandom(h.written, 2)
		cr, ok2 := helloRandom(h.fed, msgClientHello)
		if len(master) != 48 || !ok1 || !ok2 {
			return localErr(alertInternalError, "no TLS 1.2 master secret")
		}
		keys12(s, master, cr, sr, &c.in, &c.out)
	}
	c.countProtected(dirOut, h.written)
	c.countProtected(dirIn, h.fed)
	for i, p := range h.srv.protos {
		if p == h.st.NegotiatedProtocol {
			c.alpn = uint8(i + 1)
		}
	}
	c.flags |= flagEstablished | flagUsed
	return nil
}

// helloRandom returns the random of the hello message (ClientHello, ServerHello) that starts
// the flight w: record header (5), message type and length (4), version (2), random (32).
func helloRandom(w []byte, msgType byte) ([]byte, bool) {
	if len(w) < 43 || w[0] != recordHandshake || w[5] != msgType {
		return nil, false
	}
	return w[11:43], true
}

// countProtected advances direction i's sequence number past the records in recs that its
// keys open: those crypto/tls sealed or opened under the application keys during the
// handshake. It opens them in place (recs is the handshake's own copy).
func (c *Conn) countProtected(i int, recs []byte) {
	var gs stackGCM
	g := c.stackFor(&gs)
	afterCCS := false
	for len(recs) >= recordHeaderLen {
		n := int(recs[3])<<8 | int(recs[4])
		if len(recs) < recordHeaderLen+n {
			return
		}
		rec := recs[:recordHeaderLen+n]
		recs = recs[recordHeaderLen+n:]
		switch {
		case rec[0] == recordCCS:
			afterCCS = true
		case c.vers == tls.VersionTLS13 && rec[0] == recordAppData, c.vers == tls.VersionTLS12 && afterCCS:
			c.openRecord(i, rec, g) // advances the sequence number when it opens
		}
	}
}
