package engine

import (
	"cmp"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/pushwire/pushwire/engine/sys"
	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

// TLS connections: a listener opened with ListenTLS gives its connections a tlslayer.Conn,
// kept in a per-loop side table (the slot stays pointer-free and names it by index). The
// loop runs the handshake and the record layer between the socket and the Handler: OnData
// sees plaintext, Write and WriteRef queue plaintext as for any conn, and the flush seals
// what is queued into the conn's ciphertext buffer, which it holds only while sealed bytes
// wait for the kernel (a shared frame given to WriteRef stays shared: sealing copies it).
//
// The inbound carry of a TLS conn holds the plaintext OnData left unconsumed followed by an
// incomplete record: connbuf.Carry.Plain marks the boundary.

const (
	tlsPageBits = 8
	tlsPageLen  = 1 << tlsPageBits

	// coolEvery is how often the loop checks its handshake burst (burstRelease) and, where
	// tlslayer builds AES-GCM AEADs (no stackGCM: not amd64), drops those of TLS conns that
	// sealed and opened nothing since the last check: a conn idle for one to two periods
	// holds only its keys (an AES-GCM AEAD keeps 768 bytes: tlslayer BenchmarkAEADBytes).
	coolEvery = time.Second
)

// tlsConn is a conn's TLS state.
type tlsConn struct {
	c      tlslayer.Conn
	srv    *tlslayer.Server
	ct     []byte // sealed bytes not yet written, from ctOff; nil when none
	ctOff  int
	warm   bool  // on tlsTable.warm
	closed bool  // close_notify sealed: later plaintext is dropped
	born   int64 // unix ns of the accept: the handshake's start (Config.OnTLSHandshake)
}

// tlsTable is a loop's TLS states, in pages that never move, named by index+1 from slot.tls.
// Each conn's pointer-free tlslayer.Keys (264 bytes: what an idle TLS conn holds) lives in
// keys, pages mapped outside the Go heap: on the heap they would count towards the
// collector's goal, which after a storm of handshakes lets the heap keep twice the live
// bytes (BENCHMARKS.md, TLS). The heap part of a conn is its tlsConn (~100 bytes).
type tlsTable struct {
	pages    [][]tlsConn
	keys     [][]tlslayer.Keys // mmap'd (or heap when mmap fails), by the same index as pages
	mmaps    [][]byte          // the mappings behind keys, unmapped by release
	n        int32
	free     []int32
	warm     []warmConn
	nextCool time.Time // when coolTLS next runs
	out      []byte    // handshake output scratch

	burst        int // handshakes completed since memory was last released
	burstSeen    int // burst at the last coolTLS: unchanged means no handshake for a period
	releaseAfter int // the burst that releases memory; 0 = burstRelease (tests lower it)
	releases     int // memory releases this loop asked for
}

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

// warmConn is a TLS conn holding built AEADs or used since the last check, checked every
// coolEvery (Conn.Idle).
type warmConn struct {
	slot int32
	gen  uint32
}

func (t *tlsTable) at(idx int32) *tlsConn {
	i := idx - 1
	return &t.pages[i>>tlsPageBits][i&(tlsPageLen-1)]
}

func (t *tlsTable) get(srv *tlslayer.Server) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = t.n
		if int(i>>tlsPageBits) == len(t.pages) {
			t.pages = append(t.pages, make([]tlsConn, tlsPageLen))
			t.keys = append(t.keys, t.keyPage())
		}
		t.n++
	}
	tc := &t.pages[i>>tlsPageBits][i&(tlsPageLen-1)]
	tc.srv = srv
	tc.c.Bind(&t.keys[i>>tlsPageBits][i&(tlsPageLen-1)])
	return i + 1
}

// keyPage maps a page of Keys outside the Go heap (anonymous memory, touched only as conns
// use it); on the heap when mapping fails.
func (t *tlsTable) keyPage() []tlslayer.Keys {
	size := tlsPageLen * int(unsafe.Sizeof(tlslayer.Keys{}))
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]tlslayer.Keys, tlsPageLen)
	}
	t.mmaps = append(t.mmaps, mem)
	return unsafe.Slice((*tlslayer.Keys)(unsafe.Pointer(&mem[0])), tlsPageLen)
}

// release unmaps the Keys pages; every TLS conn of the loop must be closed.
func (t *tlsTable) release() {
	t.keys = nil
	for _, m := range t.mmaps {
		unix.Munmap(m)
	}
	t.mmaps = nil
}

func (t *tlsTable) put(idx int32) {
	tc := t.at(idx)
	tc.c.Close()
	*tc = tlsConn{}
	t.free = append(t.free, idx-1)
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
	if c == nil || c.tls == 0 {
		return 0, "", false
	}
	tc := l.tls.at(c.tls)
	if !tc.c.Established() {
		return 0, "", false
	}
	return tc.c.Version(), tc.srv.NegotiatedProtocol(&tc.c), true
}

// readTLS handles bytes read from TLS conn i: data is its carry followed by the new bytes.
func (l *Loop) readTLS(c *slot, i int32, data []byte) {
	tc := l.tls.at(c.tls)
	plain := 0
	if c.in != 0 {
		plain = int(l.in.At(c.in).Plain)
	}
	if !tc.c.Established() {
		used, out, err := tc.c.Handshake(tc.srv, data, l.tls.out[:0])
		l.tls.out = out[:0]
		if len(out) > 0 {
			l.queueSealed(c, i, tc, out)
		}
		if err != nil {
			l.stats.tlsHandshakeErrors.Add(1)
			l.failTLS(c, i, tc, err)
			return
		}
		data = data[used:]
		if tc.c.Established() {
			l.stats.tlsHandshakes.Add(1)
			if f := l.cfg.OnTLSHandshake; f != nil && tc.born != 0 {
				f(time.Duration(l.now.UnixNano() - tc.born))
			}
			l.tls.burst++
			l.markWarm(c, i, tc)
		}
	}
	if !tc.c.Established() {
		l.feedTLS(c, i, data, 0, 0)
		return
	}
	n, used, err := tc.c.Open(data[plain:])
	if tc.c.WantWrite() {
		l.markDirty(c, i)
	}
	l.markWarm(c, i, tc) // Open marked it used: Idle must see it
	switch {
	case err == io.EOF:
		l.feedTLS(c, i, data, plain+n, plain+used)
		if c = l.slab.at(i); c.flags&flagOpen != 0 && c.flags&flagReadClosed == 0 {
			l.peerEOF(c, i) // close_notify: as a FIN
		}
	case err != nil:
		l.failTLS(c, i, tc, err)
	default:
		l.feedTLS(c, i, data, plain+n, plain+used)
	}
}

// failTLS ends a TLS conn after a handshake or record failure: the alert (from crypto/tls in
// the handshake, or the record layer's) goes out first when there is one.
func (l *Loop) failTLS(c *slot, i int32, tc *tlsConn, err error) {
	if a, ok := tlslayer.AlertFor(err); ok && tc.c.Established() {
		l.queueSealed(c, i, tc, tc.c.AppendAlert(l.tls.out[:0], a))
	}
	if tc.ct == nil {
		l.closeConn(i, err)
		return
	}
	tc.closed = true
	l.CloseAfterFlush(makeHandle(l.idx, i, c.gen))
}

// queueSealed appends bytes already on the wire format (handshake flights, alerts) to the
// conn's ciphertext buffer.
func (l *Loop) queueSealed(c *slot, i int32, tc *tlsConn, b []byte) {
	if tc.ct == nil {
		tc.ct = l.out.Chunk(0)
	}
	tc.ct = append(tc.ct, b...)
	c.pending += int32(len(b))
	l.markDirty(c, i)
}

// feedTLS hands the plaintext data[:plainEnd] to OnData (when there is any) and carries what
// it leaves, followed by the incomplete record data[restAt:].
func (l *Loop) feedTLS(c *slot, i int32, data []byte, plainEnd, restAt int) {
	gen := c.gen
	c.flags &^= flagResume
	consumed := 0
	if plainEnd > 0 {
		h := makeHandle(l.idx, i, gen)
		outer := l.feeding
		l.feeding = i
		consumed = l.h.OnData(l, h, data[:plainEnd])
		l.feeding = outer
		c = l.slab.at(i)
		if c.gen != gen || c.flags&flagOpen == 0 || c.flags&flagReadClosed != 0 {
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
	case c.in == 0:
		c.in = l.in.Get()
		in := l.in.At(c.in)
		in.B = append(append(in.B, data[consumed:plainEnd]...), data[restAt:]...)
	default: // data is the carry: compact it in place
		in := l.in.At(c.in)
		copy(in.B, data[consumed:plainEnd])
		copy(in.B[keep:], data[restAt:])
		in.B = in.B[:keep+rest]
	}
	l.in.At(c.in).Plain = int32(keep)
	if keep > 0 {
		l.paused(c, i) // as in feed: OnData may have stopped because h is Congested
	}
}

// feedCarry presents c's carry to OnData again (a resume): all of it for a plaintext conn,
// the plaintext part for a TLS conn.
func (l *Loop) feedCarry(c *slot, i int32) {
	in := l.in.At(c.in)
	if c.tls == 0 {
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
	tc := l.tls.at(c.tls)
	if tc.c.Established() {
		if err := l.sealQueued(c, tc); err != nil {
			l.closeConn(i, err)
			return
		}
		if c.flags&flagCloseAfter != 0 && !tc.closed && c.out == 0 {
			l.queueSealed(c, i, tc, tc.c.AppendCloseNotify(l.tls.out[:0]))
			tc.closed = true
		}
		l.markWarm(c, i, tc)
	} else if c.out != 0 && c.flags&flagReadClosed != 0 {
		// reading stopped in the handshake (a header timeout's answer, a close): the queued
		// plaintext can never be sealed
		c.pending -= int32(l.out.At(c.out).Len())
		l.out.Put(c.out)
		c.out = 0
	} else if c.out != 0 {
		l.out.OwnRefs(l.out.At(c.out)) // sealed once the handshake is done
	}
	for tc.ct != nil && c.flags&flagBlocked == 0 {
		n, err := sys.Write(int(c.fd), tc.ct[tc.ctOff:])
		switch err {
		case nil:
		case unix.EAGAIN:
			c.flags |= flagBlocked
			continue
		case unix.EINTR:
			continue
		default:
			l.closeConn(i, wrapSyscall("write", err))
			return
		}
		c.pending -= int32(n)
		if tc.ctOff += n; tc.ctOff == len(tc.ct) {
			l.out.PutChunk(tc.ct)
			tc.ct, tc.ctOff = nil, 0
		} else {
			c.flags |= flagBlocked // a short write: the kernel buffer is full
		}
	}
	l.afterFlush(c, i)
}

// sealQueued seals c's queued plaintext (and any KeyUpdate due) into tc.ct and releases the
// plaintext queue.
func (l *Loop) sealQueued(c *slot, tc *tlsConn) error {
	if c.out == 0 && !tc.c.WantWrite() {
		return nil
	}
	if tc.ct == nil {
		tc.ct = l.out.Chunk(0)
	} else if tc.ctOff > 0 && tc.ctOff >= len(tc.ct)/2 {
		k := copy(tc.ct, tc.ct[tc.ctOff:])
		tc.ct, tc.ctOff = tc.ct[:k], 0
	}
	before := len(tc.ct)
	var err error
	if tc.c.WantWrite() {
		tc.ct, err = tc.c.Seal(tc.ct, nil)
	}
	if c.out != 0 {
		q := l.out.At(c.out)
		for k := 0; k < q.Segs() && err == nil; k++ {
			b := q.Seg(k)
			c.pending -= int32(len(b))
			if !tc.closed {
				tc.ct, err = tc.c.Seal(tc.ct, b)
			}
		}
		l.out.Put(c.out)
		c.out = 0
	}
	c.pending += int32(len(tc.ct) - before)
	if len(tc.ct) == tc.ctOff {
		l.out.PutChunk(tc.ct)
		tc.ct, tc.ctOff = nil, 0
	}
	return err
}

// markWarm puts a TLS conn that holds AEADs or was used on the list Idle checks every tick.
func (l *Loop) markWarm(c *slot, i int32, tc *tlsConn) {
	if !tc.warm && tc.c.Warm() {
		tc.warm = true
		l.tls.warm = append(l.tls.warm, warmConn{slot: i, gen: c.gen})
	}
}

// coolTLS runs every coolEvery: conns that neither sealed nor opened a record since the last
// run drop their AEADs (tlslayer.Conn.Idle), so only busy conns hold them.
func (l *Loop) coolTLS() {
	l.tls.nextCool = l.now.Add(coolEvery)
	if l.tls.burst >= cmp.Or(l.tls.releaseAfter, burstRelease) && l.tls.burst == l.tls.burstSeen {
		l.tls.burst = 0 // a burst of handshakes that ended a period ago
		l.tls.releases++
		l.eng.releaseMemory()
	}
	l.tls.burstSeen = l.tls.burst
	kept := l.tls.warm[:0]
	for _, w := range l.tls.warm {
		c := l.slab.at(w.slot)
		if c.gen != w.gen || c.flags&flagOpen == 0 || c.tls == 0 {
			continue
		}
		tc := l.tls.at(c.tls)
		if tc.c.Idle() {
			tc.warm = false
			continue
		}
		kept = append(kept, w)
	}
	clear(l.tls.warm[len(kept):])
	l.tls.warm = kept
}

// freeTLS releases c's TLS state (a running handshake's helper ends).
func (l *Loop) freeTLS(c *slot) {
	if c.tls != 0 {
		l.tls.put(c.tls)
		c.tls = 0
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
