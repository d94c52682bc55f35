package upgrade

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"golang.org/x/sys/unix"
)

// A handoff streamed (handoff/stream.go): the old process's loops export and send their
// connections all at once, each in batches of at most 253 as it goes, and the new process
// adopts each connection as its record and descriptor arrive — while its loops are stopped,
// so it reads and writes none of them and enters no name in the directory before the end;
// the old process keeps its own descriptors until go, as before. The pause is then about the
// slowest of export, send and adopt rather than their sum.

// loopExport is one loop's export state on the old side: its batch and the scratch its
// records are built in, reused from conn to conn.
type loopExport struct {
	out     *handoff.BatchSender // the handoff's, shared by the loops
	batch   handoff.Batch
	rec     handoff.Record
	names   []byte // the record's user and topic names
	pending []byte
	carry   []byte
	state   []byte // a TLS conn's keys: cleared once encoded
	err     error  // the first send error: the loop stops exporting
}

// add encodes x.rec with its descriptor fd, and h2rec after it if not nil (an HTTP/2
// connection's), into the batch and sends the batch when full. An error is either
// handoff.ErrTooLarge — this connection's record is over a bound, the batch is as it was, and
// the export goes on without it — or a failed send (x.err), which stops the export.
func (x *loopExport) add(fd int, h2rec *handoff.Record) error {
	err := x.batch.AddWith(&x.rec, fd, h2rec)
	x.pending, x.carry, x.state = x.rec.Conn.Pending, x.rec.Conn.Carry, x.rec.Conn.State
	clear(x.state) // the batch holds the copy that goes out
	if err != nil {
		return err
	}
	if x.batch.Full() {
		x.err = x.out.Send(&x.batch)
	}
	return x.err
}

// flush sends what the batch still holds.
func (x *loopExport) flush() {
	if x.err == nil {
		x.err = x.out.Send(&x.batch)
	}
}

// streamOut sends the hello and the listeners, then has every loop export and send its
// detached connections (stepExport); it returns the first loop's error.
func (u *Upgrader) streamOut(snd *handoff.Sender) error {
	meta := handoff.Meta{NodeID: u.ID, Seq: u.IDs.Last(), Version: u.Version,
		Boundary: string(u.Boundary), Upgrades: u.count.Load(),
		UpgradesFailed: u.failed.Load(), UpgradeReconnects: u.reconnects.Load()}
	for i := range u.loops {
		meta.Loops = append(meta.Loops, u.loops[i].up.marks) // the last quiesce round's
	}
	if u.TLS != nil {
		meta.TicketKeys = u.TLS.TicketKeys() // resumed sessions keep working
	}
	if err := snd.Hello(meta); err != nil {
		return err
	}
	if err := u.sendLinkListener(snd); err != nil {
		return err
	}
	for i := range u.loops {
		for _, hl := range u.loops[i].up.listeners {
			r := handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(hl.tag), TLS: hl.tls}}
			if err := snd.Add(&r, hl.fd); err != nil {
				return err
			}
		}
	}
	out := snd.Batches()
	for i := range u.loops {
		u.loops[i].up.out = loopExport{out: out}
	}
	u.round(stepExport)
	for i := range u.loops {
		if err := u.loops[i].up.out.err; err != nil {
			return fmt.Errorf("sending loop %d's connections: %w", i, err)
		}
	}
	return nil
}

// streamAdopter is the new process's side: the receiver copies each connection's record into
// a chunk for its loop, and a goroutine per loop adopts the chunks (the engine's and the
// table's work for one conn is an epoll_ctl and a few locked inserts: two loops' adopters
// use both cores while the old process exports).
type streamAdopter struct {
	u       *Upgrader
	at      time.Time
	loops   []loopAdopter
	failed  atomic.Bool // an adopter failed: the receiver stops
	conns   int
	adopted atomic.Int64 // conns adopted so far, for OnAdopted
}

// adoptChunkLen is how many conns a chunk carries to its loop's adopter.
const adoptChunkLen = 64

// adoptChunk is a run of conn records for one loop, their bytes copied into buf.
type adoptChunk struct {
	conns []handoff.Conn
	fds   []int
	nth   []int // each conn's place in the handoff, for errors
	buf   []byte
}

// loopAdopter adopts one loop's conns. Chunks circulate: the receiver fills cur, sends it
// on work, and takes an emptied one from free (so at most a few are in flight).
type loopAdopter struct {
	cur  *adoptChunk
	work chan *adoptChunk
	free chan *adoptChunk
	done chan struct{}
	err  error // the first adoption error; read after done
}

func (u *Upgrader) newStreamAdopter() *streamAdopter {
	a := &streamAdopter{u: u, at: time.Now(), loops: make([]loopAdopter, len(u.loops))}
	for i := range a.loops {
		la := &a.loops[i]
		la.cur = &adoptChunk{}
		la.work, la.free, la.done = make(chan *adoptChunk, 2), make(chan *adoptChunk, 3), make(chan struct{})
		for range 2 {
			la.free <- &adoptChunk{}
		}
		go a.run(la)
	}
	return a
}

func (a *streamAdopter) now() time.Time { return a.at }

func (a *streamAdopter) Hello(m *handoff.Meta) error { return a.u.adoptMeta(m) }

// Conn copies c (its slices are the receiver's views) into its loop's chunk.
func (a *streamAdopter) Conn(c *handoff.Conn, fd int) error {
	li := engine.Handle(c.Handle).Loop()
	if li >= len(a.loops) {
		unix.Close(fd)
		return fmt.Errorf("a connection of loop %d; this process has %d loops", li, len(a.loops))
	}
	if a.failed.Load() {
		unix.Close(fd)
		return errors.New("adopting connections failed") // wait reports why
	}
	la := &a.loops[li]
	ch := la.cur
	r := handoff.Conn{}
	if n := len(ch.conns); n < cap(ch.conns) {
		slot := &ch.conns[:n+1][n] // the slot's earlier capacity
		r.Topics, r.Allowed = slot.Topics[:0], slot.Allowed[:0]
	}
	ch.buf = copyConn(&r, c, ch.buf)
	ch.conns = append(ch.conns, r)
	ch.fds = append(ch.fds, fd)
	ch.nth = append(ch.nth, a.conns)
	a.conns++
	if len(ch.conns) == adoptChunkLen {
		la.work <- ch
		la.cur = <-la.free
	}
	return nil
}

// copyConn sets dst to src with src's bytes appended to buf, and returns buf. A slice
// taken before buf grows still holds its bytes (the old array stays while referenced).
func copyConn(dst, src *handoff.Conn, buf []byte) []byte {
	topics, allowed := dst.Topics, dst.Allowed
	*dst = *src
	buf, dst.User = appendView(buf, src.User)
	buf, dst.State = appendView(buf, src.State)
	buf, dst.Pending = appendView(buf, src.Pending)
	buf, dst.Carry = appendView(buf, src.Carry)
	dst.Topics = topics
	for _, t := range src.Topics {
		var v []byte
		buf, v = appendView(buf, t)
		dst.Topics = append(dst.Topics, v)
	}
	dst.Allowed = allowed
	for _, p := range src.Allowed {
		var v []byte
		buf, v = appendView(buf, p)
		dst.Allowed = append(dst.Allowed, v)
	}
	return buf
}

// appendView appends b to buf and returns buf and the appended bytes (nil for nil).
func appendView(buf, b []byte) ([]byte, []byte) {
	if b == nil {
		return buf, nil
	}
	start := len(buf)
	buf = append(buf, b...)
	return buf, buf[start:len(buf):len(buf)]
}

// run adopts la's chunks until work closes; after an error it closes the descriptors it is
// given instead.
func (a *streamAdopter) run(la *loopAdopter) {
	defer close(la.done)
	for ch := range la.work {
		for i := range ch.conns {
			if la.err != nil {
				unix.Close(ch.fds[i])
				continue
			}
			if err := a.u.adoptHanded(&ch.conns[i], ch.fds[i], a.at); err != nil {
				la.err = fmt.Errorf("connection %d: %w", ch.nth[i], err)
				a.failed.Store(true)
			} else if fn := a.u.onAdopted; fn != nil {
				fn(int(a.adopted.Add(1)))
			}
		}
		clear(ch.buf) // a TLS conn's keys: the engine holds the only copy now
		ch.buf, ch.conns, ch.fds, ch.nth = ch.buf[:0], ch.conns[:0], ch.fds[:0], ch.nth[:0]
		la.free <- ch
	}
}

// wait hands every adopter its last chunk and waits for them; it returns the first error.
func (a *streamAdopter) wait() error {
	var err error
	for i := range a.loops {
		la := &a.loops[i]
		if len(la.cur.conns) > 0 {
			la.work <- la.cur
		}
		close(la.work)
		<-la.done
		if la.err != nil && err == nil {
			err = la.err
		}
	}
	return err
}

// collectAfter is how long the new process serves before it collects the handoff's garbage.
const collectAfter = 500 * time.Millisecond

// collectLater turns the collector back on (at gcPercent) once the new process has served
// for collectAfter, and returns what the handoff left to the OS, to start as lean as a fresh
// process. Not at go: with collection off since the handoff began, the heap is far past its
// goal, and the cycle that would start at once competed with the first deliveries (on 2
// cores, ~40 ms of the gap a subscriber saw).
func collectLater(gcPercent int) {
	time.AfterFunc(collectAfter, func() {
		debug.SetGCPercent(gcPercent)
		debug.FreeOSMemory()
	})
}

// OnAdopted has fn called, on the goroutine that adopted it, with the count of connections a
// takeover (TakeOver) has adopted so far, after each; set before TakeOver. The crash-test
// build of cmd/pushwire exits from it, to show the old process resumes a handoff the new one
// died in the middle of.
func (u *Upgrader) OnAdopted(fn func(conns int)) { u.onAdopted = fn }
