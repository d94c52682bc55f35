package engine

import (
	"cmp"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/pushwire/pushwire/engine/tlsconn"
	"github.com/pushwire/pushwire/tlslayer"
)

// TLS connections: a listener opened with ListenTLS gives its connections a TLS state in the
// loop's tlsconn.Table (the slot stays pointer-free and names it by index). The loop runs
// the handshake and the record layer between the socket and the Handler: OnData sees
// plaintext, Write and WriteRef queue plaintext as for any conn, and the flush seals what is
// queued into the conn's ciphertext buffer, which it holds only while sealed bytes wait for
// the kernel (a shared frame given to WriteRef stays shared: sealing copies it). This file
// is what that means for the slot: its pending bytes, OnData, the close.
//
// The inbound carry of a TLS conn holds the plaintext OnData left unconsumed followed by an
// incomplete record: connbuf.Carry.Plain marks the boundary.

// coolEvery is how often the loop checks its handshake burst (burstRelease) and, where
// tlslayer builds AES-GCM AEADs (no stackGCM: not amd64), drops those of TLS conns that
// sealed and opened nothing since the last check: a conn idle for one to two periods holds
// only its keys (an AES-GCM AEAD keeps 768 bytes: tlslayer BenchmarkAEADBytes).
const coolEvery = time.Second

// burstRelease is how many handshakes a loop completes before the end of their burst returns
// the heap's free memory to the OS (Engine.releaseMemory). A crypto/tls handshake leaves
// ~80 KB of garbage (the key shares, X25519MLKEM768's keys, transcripts, certificates): a
// storm of them grows the heap to twice its live size, and once the storm ends nothing else
// makes garbage (an idle TLS conn seals its heartbeats with none: tlslayer stackGCM), so no
// collection would come to shrink it and the Go runtime would keep those pages resident: at
// 15,000 TLS subscribers ~1 KB per subscriber of idle memory that holds nothing
// (BENCHMARKS.md, TLS). 1,000 handshakes cost ~0.4 s of CPU; the release, one forced
// collection of a heap of a few MB and the scavenge, costs milliseconds.
const burstRelease = 1000

// handshakeBurst counts a loop's handshakes towards the next memory release.
type handshakeBurst struct {
	nextCool     time.Time // when coolTLS next runs
	burst        int       // handshakes completed since memory was last released
	burstSeen    int       // burst at the last coolTLS: unchanged means no handshake for a period
	releaseAfter int       // the burst that releases memory; 0 = burstRelease (tests lower it)
	releases     int       // memory releases this loop asked for
}

// ListenTLS is Listen for a TLS listener: its connections handshake with srv, and their
// Handler sees only plaintext. The tag may be shared with a plaintext listener (the same
// service over both). Handshake failures close the conn (counted in
// Stats.TLSHandshakeErrors) without OnData.
func (e *Engine) ListenTLS(addr string, listener int, srv *tlslayer.Server) (net.Addr, error) {
	if srv == nil {
		return nil, errors.New("engine: ListenTLS with a nil server")
	}
	return e.listen(addr, listener, srv)
}

// TLSState returns the negotiated version and ALPN protocol of h; ok is false for a
// plaintext conn or a TLS conn still in its handshake.
func (l *Loop) TLSState(h Handle) (version uint16, alpn string, ok bool) {
	c, _ := l.conn(h)
	if c == nil || c.TLS == 0 {
		return 0, "", false
	}
	tc := l.tls.At(c.TLS)
	if !tc.Established() {
		return 0, "", false
	}
	return tc.Version(), tc.ALPN(), true
}

// readTLS handles bytes read from TLS conn i: data is its carry followed by the new bytes.
func (l *Loop) readTLS(c *slot, i int32, data []byte) {
	tc := l.tls.At(c.TLS)
	plain := 0
	if c.In != 0 {
		plain = int(l.in.At(c.In).Plain)
	}
	if !tc.Established() {
		used, queued, done, err := l.tls.Handshake(tc, &l.out, data)
		l.queuedTLS(c, i, queued)
		if err != nil {
			l.stats.tlsHandshakeErrors.Add(1)
			l.failTLS(c, i, tc, err)
			return
		}
		data = data[used:]
		if done {
			l.stats.tlsHandshakes.Add(1)
			if f := l.cfg.OnTLSHandshake; f != nil && tc.Born != 0 {
				f(time.Duration(l.now.UnixNano() - tc.Born))
			}
			l.hs.burst++
			l.tls.MarkWarm(c.TLS)
		}
	}
	if !tc.Established() {
		l.feedTLS(c, i, data, 0, 0)
		return
	}
	n, used, err := tc.Open(data[plain:])
	if tc.WantWrite() {
		l.markDirty(c, i)
	}
	l.tls.MarkWarm(c.TLS) // Open marked it used: Cool must see it
	switch {
	case err == io.EOF:
		l.feedTLS(c, i, data, plain+n, plain+used)
		if c = l.slab.At(i); c.Flags&flagOpen != 0 && c.Flags&flagReadClosed == 0 {
			l.peerEOF(c, i) // close_notify: as a FIN
		}
	case err != nil:
		l.failTLS(c, i, tc, err)
	default:
		l.feedTLS(c, i, data, plain+n, plain+used)
	}
}

// queuedTLS counts n sealed bytes just queued for conn i (a flight, an alert, a
// close_notify) and has them flushed.
func (l *Loop) queuedTLS(c *slot, i int32, n int) {
	if n > 0 {
		c.Pending += int32(n)
		l.markDirty(c, i)
	}
}

// failTLS ends a TLS conn after a handshake or record failure: the alert (from crypto/tls in
// the handshake, or the record layer's) goes out first when there is one.
func (l *Loop) failTLS(c *slot, i int32, tc *tlsconn.Conn, err error) {
	l.queuedTLS(c, i, l.tls.Alert(tc, &l.out, err))
	if !tc.Buffered() {
		l.closeConn(i, err)
		return
	}
	l.CloseAfterFlush(makeHandle(l.idx, i, c.Gen))
}

// feedTLS hands the plaintext data[:plainEnd] to OnData (when there is any) and carries what
// it leaves, followed by the incomplete record data[restAt:].
func (l *Loop) feedTLS(c *slot, i int32, data []byte, plainEnd, restAt int) {
	gen := c.Gen
	c.Flags &^= flagResume
	consumed := 0
	if plainEnd > 0 {
		h := makeHandle(l.idx, i, gen)
		outer := l.feeding
		l.feeding = i
		consumed = l.h.OnData(l, h, data[:plainEnd])
		l.feeding = outer
		c = l.slab.At(i)
		if c.Gen != gen || c.Flags&flagOpen == 0 || c.Flags&flagReadClosed != 0 {
			return
		}
		consumed = min(max(consumed, 0), plainEnd)
	}
	keep := plainEnd - consumed
	rest := len(data) - restAt
	switch {
	case keep+rest == 0:
		l.dropCarry(c)
		return
	case keep+rest > l.cfg.MaxInboundBytes:
		l.stats.inboundOverflows.Add(1)
		l.closeConn(i, ErrInboundLimit)
		return
	case c.In == 0:
		c.In = l.in.Get()
		in := l.in.At(c.In)
		in.B = append(append(in.B, data[consumed:plainEnd]...), data[restAt:]...)
	default: // data is the carry: compact it in place
		in := l.in.At(c.In)
		copy(in.B, data[consumed:plainEnd])
		copy(in.B[keep:], data[restAt:])
		in.B = in.B[:keep+rest]
	}
	l.in.At(c.In).Plain = int32(keep)
	if keep > 0 {
		l.paused(c, i) // as in feed: OnData may have stopped because h is Congested
	}
}

// feedCarry presents c's carry to OnData again (a resume): all of it for a plaintext conn,
// the plaintext part for a TLS conn.
func (l *Loop) feedCarry(c *slot, i int32) {
	in := l.in.At(c.In)
	if c.TLS == 0 {
		l.feed(c, i, in.B)
		return
	}
	p := int(in.Plain)
	l.feedTLS(c, i, in.B, p, p)
}

// flushTLS is flushConn for a TLS conn: once the handshake is done, the queued plaintext is
// sealed into the ciphertext buffer (and a close_notify after it once the conn is closing),
// then the buffer is written.
func (l *Loop) flushTLS(c *slot, i int32) {
	tc := l.tls.At(c.TLS)
	if tc.Established() {
		if err := l.sealQueued(c, tc); err != nil {
			l.closeConn(i, err)
			return
		}
		if c.Flags&flagCloseAfter != 0 && c.Out == 0 {
			l.queuedTLS(c, i, l.tls.CloseNotify(tc, &l.out))
		}
		l.tls.MarkWarm(c.TLS)
	} else if c.Out != 0 && c.Flags&flagReadClosed != 0 {
		// reading stopped in the handshake (a header timeout's answer, a close): the queued
		// plaintext can never be sealed
		c.Pending -= int32(l.out.At(c.Out).Len())
		l.out.Put(c.Out)
		c.Out = 0
	} else if c.Out != 0 {
		l.out.OwnRefs(l.out.At(c.Out)) // sealed once the handshake is done
	}
	if c.Flags&flagBlocked == 0 {
		n, full, err := tc.WriteTo(int(c.FD), &l.out)
		c.Pending -= int32(n)
		if err != nil {
			l.closeConn(i, err)
			return
		}
		if full {
			c.Flags |= flagBlocked
		}
	}
	l.afterFlush(c, i)
}

// sealQueued seals c's queued plaintext (and any KeyUpdate due) into its ciphertext buffer
// and releases the plaintext queue.
func (l *Loop) sealQueued(c *slot, tc *tlsconn.Conn) error {
	if c.Out == 0 {
		d, err := tc.Seal(&l.out, nil)
		c.Pending += int32(d)
		return err
	}
	d, err := tc.Seal(&l.out, l.out.At(c.Out))
	c.Pending += int32(d)
	l.out.Put(c.Out)
	c.Out = 0
	return err
}

// coolTLS runs every coolEvery: after a burst of handshakes that ended a period ago the
// engine returns the free heap to the OS, and conns that neither sealed nor opened a record
// since the last run drop their AEADs (tlsconn.Table.Cool).
func (l *Loop) coolTLS() {
	l.hs.nextCool = l.now.Add(coolEvery)
	if l.hs.burst >= cmp.Or(l.hs.releaseAfter, burstRelease) && l.hs.burst == l.hs.burstSeen {
		l.hs.burst = 0
		l.hs.releases++
		l.eng.releaseMemory()
	}
	l.hs.burstSeen = l.hs.burst
	l.tls.Cool()
}

// freeTLS releases c's TLS state (a running handshake's helper ends).
func (l *Loop) freeTLS(c *slot) {
	if c.TLS != 0 {
		l.tls.Put(c.TLS)
		c.TLS = 0
	}
}

// releaseMemory returns the heap's free memory to the OS, on a short-lived goroutine (a forced
// collection blocks its caller until it ends), one at a time (see burstRelease).
func (e *Engine) releaseMemory() {
	if !e.releasing.CompareAndSwap(false, true) {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		debug.FreeOSMemory()
		e.releasing.Store(false)
	}()
}
