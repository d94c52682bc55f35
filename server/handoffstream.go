package server

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/pushwire/pushwire/handoff"
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

// add encodes x.rec with its descriptor fd into the batch and sends the batch when full; false
// means a send failed (x.err) and the export stops.
func (x *loopExport) add(fd int) bool {
	err := x.batch.Add(&x.rec, fd)
	x.pending, x.carry, x.state = x.rec.Conn.Pending, x.rec.Conn.Carry, x.rec.Conn.State
	clear(x.state) // the batch holds the copy that goes out
	if err == nil && x.batch.Full() {
		err = x.out.Send(&x.batch)
	}
	x.err = err
	return err == nil
}

// flush sends what the batch still holds.
func (x *loopExport) flush() {
	if x.err == nil {
		x.err = x.out.Send(&x.batch)
	}
}

// streamOut sends the hello and the listeners, then has every loop export and send its
// detached connections (stepExport); it returns the first loop's error.
func (s *Server) streamOut(snd *handoff.Sender) error {
	meta := handoff.Meta{NodeID: s.nodeID, Seq: s.ids.Last(), Version: Version(),
		Boundary: string(s.boundary), Upgrades: s.up.count.Load(),
		UpgradesFailed: s.up.failed.Load(), UpgradeReconnects: s.up.reconnects.Load()}
	if s.tls.srv != nil {
		meta.TicketKeys = s.tls.srv.TicketKeys() // resumed sessions keep working
	}
	if err := snd.Hello(meta); err != nil {
		return err
	}
	if err := s.sendLinkListener(snd); err != nil {
		return err
	}
	for i := range s.up.loops {
		for _, hl := range s.up.loops[i].listeners {
			r := handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(hl.tag), TLS: hl.tls}}
			if err := snd.Add(&r, hl.fd); err != nil {
				return err
			}
		}
	}
	out := snd.Batches()
	for i := range s.up.loops {
		s.up.loops[i].out = loopExport{out: out}
	}
	s.round(stepExport)
	for i := range s.up.loops {
		if err := s.up.loops[i].out.err; err != nil {
			return fmt.Errorf("sending loop %d's connections: %w", i, err)
		}
	}
	return nil
}

// streamAdopter is the new process's side: each connection is adopted as it arrives.
type streamAdopter struct {
	s     *Server
	now   time.Time
	conns int
}

func (a *streamAdopter) Hello(m *handoff.Meta) error { return a.s.adoptMeta(m) }

func (a *streamAdopter) Conn(c *handoff.Conn, fd int) error {
	if err := a.s.adoptHanded(c, fd, a.now); err != nil {
		return fmt.Errorf("connection %d: %w", a.conns, err)
	}
	a.conns++
	return nil
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
