package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
)

// HTTP/2 connections in a handoff (the phases are handoff.go's). An HTTP/2 connection moves
// whole: its socket, pending output and TLS state as any connection's, then a KindH2 record
// with the codec's state (httpcodec/h2/export.go: windows, stream ids, SETTINGS we advertised,
// queued DATA) and a subscriber record per open stream, which the new process rebuilds in the
// same stream record (index and generation: the conn key names it still), without a
// registered frame or GOAWAY.
//
// Quiesce takes a connection only when its codec is Movable: handshake done, between frames,
// no header block in progress. HPACK then needs nothing: our encoder never indexes, and we
// advertise a header table of 0 from the first SETTINGS, so once the peer acknowledged them
// and between header blocks our decoder is empty, as the new process's is. A connection that
// is not quiet is busy for a round, as an HTTP/1.x connection mid-answer is, for up to
// h2QuietWait (half the time the handoff waits for busy connections, if that is shorter); one
// still not quiet by then (a peer that stopped mid-frame, or never acknowledged our SETTINGS)
// gets the reconnect frames and GOAWAY (counted in upgrade_reconnects) rather than holding
// the whole handoff back.

// h2QuietWait bounds how long quiesce waits for an HTTP/2 connection to come quiet.
const h2QuietWait = time.Second

// quiesceH2 detaches HTTP/2 connection c once it is quiet and none of its streams is waiting
// for an answer; a waiting long-poll is answered 204 first (the client asks again, of the new
// process).
func (ls *Loop) quiesceH2(l *engine.Loop, c *edge.ConnState, u *loopUpgrade, nowMs int64) {
	if u.h2Ended[c.H] {
		return
	}
	answering, movable := ls.h2.Settle(l, c.H) // h2edge/handoff.go
	switch {
	case answering:
		u.busy++
	case !movable && l.Now().Before(ls.u.h2Until):
		u.busy++
	case !movable:
		ls.h2CannotMove(l, c, u, nowMs)
	default:
		if _, err := l.Detach(c.H); err != nil {
			ls.h2CannotMove(l, c, u, nowMs)
			return
		}
		u.detached = append(u.detached, c.H)
	}
}

// exportH2 makes the KindH2 record of detached HTTP/2 connection c, whose conn record is r; its
// streams' names go in *names (scratch, reset), which the record views until it is encoded.
// It reads the state and changes nothing: a failed handoff carries on with it.
func (ls *Loop) exportH2(c *edge.ConnState, r *handoff.Conn, names *[]byte) (*handoff.Record, error) {
	r.LastFrameMs = ls.u.TimeOf(c.At).UnixMilli() // the PING rhythm of a connection with no stream
	codec, pings, err := ls.h2.ExportH2(c.H)
	if err != nil {
		return nil, err
	}
	*names = (*names)[:0]
	subs := ls.h2.Streams(c.H)
	rec := &handoff.Record{Kind: handoff.KindH2, H2: handoff.H2{Handle: uint64(c.H), Pings: pings, Codec: codec,
		Streams: make([]handoff.H2Stream, 0, len(subs))}}
	for _, sub := range subs {
		st := ls.Stream(sub)
		if st == nil {
			continue // gone already
		}
		if st.Mode != edge.ModeStream {
			return nil, errors.New("a stream of the connection is not a subscriber stream")
		}
		s := handoff.H2Stream{ID: st.Id, Sub: handoff.Conn{Handle: uint64(sub), Mode: uint8(edge.ModeStream)}}
		ls.exportSub(sub, &st.SubState, &s.Sub, names)
		rec.H2.Streams = append(rec.H2.Streams, s)
	}
	return rec, nil
}

// adoptH2 rebuilds the HTTP/2 connections handed over: each conn (adopted already, in
// edge.ModeH2) gets its codec back and its streams in their stream records. Every HTTP/2 conn must
// come with its record, and every record name one: anything else aborts the takeover (the old
// process keeps the connections).
func (u *Upgrader) adoptH2(recs []handoff.H2, now time.Time) error {
	for i := range recs {
		h := engine.Handle(recs[i].Handle)
		if h.Loop() >= len(u.loops) {
			return fmt.Errorf("HTTP/2 connection %d: of loop %d; this process has %d loops", i, h.Loop(), len(u.loops))
		}
		if err := u.loops[h.Loop()].adoptH2Conn(&recs[i], now); err != nil {
			return fmt.Errorf("HTTP/2 connection %d: %w", i, err)
		}
	}
	for _, ls := range u.loops {
		ls.FreeUnusedStreams()
		for _, page := range ls.Pages {
			for i := range page {
				if c := &page[i]; c.H != 0 && c.Mode == edge.ModeH2 && c.Parser == 0 {
					return errors.New("an HTTP/2 connection came without its codec state")
				}
			}
		}
	}
	return nil
}

var errH2Record = errors.New("HTTP/2 record names no HTTP/2 connection handed over, or again")

// adoptH2Conn gives the adopted conn rec names its codec and streams.
func (ls *Loop) adoptH2Conn(rec *handoff.H2, now time.Time) error {
	h := engine.Handle(rec.Handle)
	c := ls.Live(h)
	if c == nil || c.Mode != edge.ModeH2 || c.Parser != 0 {
		return errH2Record
	}
	ids, err := ls.h2.AdoptH2(c, rec.Codec, rec.Pings)
	if err != nil {
		return err
	}
	for k := range rec.Streams {
		rs := &rec.Streams[k]
		sub := conntable.Sub(rs.Sub.Handle)
		if records := ls.u.markOf(ls.Index).Streams; sub.IsStream() && sub.Index() >= int(records) {
			// or one bad index would grow the stream pages to 2^23 records
			return fmt.Errorf("stream %d: its record index %d is past the old process's %d stream records", rs.ID, sub.Index(), records)
		}
		if !sub.IsStream() || sub.Loop() != ls.Index || sub.Gen() == 0 || !slices.Contains(ids, rs.ID) ||
			edge.ConnMode(rs.Sub.Mode) != edge.ModeStream || rs.Sub.Minor != edge.FramingH2 {
			return fmt.Errorf("stream %d: its record names no open subscriber stream of this connection", rs.ID)
		}
		st, ok := ls.AdoptStream(sub, h, rs.ID)
		if !ok {
			return fmt.Errorf("stream %d: its stream record is taken twice", rs.ID)
		}
		st.Mode = edge.ModeStream
		ls.h2.AdoptH2Stream(h, sub)
		ls.adoptSub(sub, &st.SubState, &rs.Sub, now)
	}
	return nil
}
