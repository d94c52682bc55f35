package server

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/httpcodec/h2"
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
func (ls *loopState) quiesceH2(l *engine.Loop, c *connState, u *loopUpgrade, nowMs int64) {
	if u.h2Ended[c.h] {
		return
	}
	hc := ls.h2Of(c.h)
	answering := false
	for i := len(hc.subs) - 1; i >= 0; i-- { // backwards: an answered poll leaves the list
		sub := hc.subs[i]
		st := ls.stream(sub)
		if st == nil {
			continue
		}
		if st.mode == modePoll && ls.h2AnswerPoll(l, sub, &st.subState, nil, true) {
			continue
		}
		if _, held := ls.held[engine.Handle(sub)]; held || st.mode != modeStream {
			answering = true // an auth verdict, an ack's answer or a QoS 1 replay on its way
		}
	}
	switch {
	case answering:
		u.busy++
	case !hc.codec.Movable() && l.Now().Before(ls.s.up.h2Until):
		u.busy++
	case !hc.codec.Movable():
		ls.h2CannotMove(l, c, u, nowMs)
	default:
		if _, err := l.Detach(c.h); err != nil {
			ls.h2CannotMove(l, c, u, nowMs)
			return
		}
		u.detached = append(u.detached, c.h)
	}
}

// exportH2 makes the KindH2 record of detached HTTP/2 connection c, whose conn record is r.
// It reads the state and changes nothing: a failed handoff carries on with it.
func (ls *loopState) exportH2(c *connState, r *handoff.Conn) (*handoff.Record, error) {
	hc := ls.h2Of(c.h)
	r.LastFrameMs = ls.s.timeOf(c.at).UnixMilli() // the PING rhythm of a connection with no stream
	codec, err := hc.codec.AppendState(nil)
	if err != nil {
		return nil, err
	}
	rec := &handoff.Record{Kind: handoff.KindH2, H2: handoff.H2{Handle: uint64(c.h), Pings: hc.pings, Codec: codec,
		Streams: make([]handoff.H2Stream, 0, len(hc.subs))}}
	for _, sub := range hc.subs {
		st := ls.stream(sub)
		if st == nil {
			continue // gone already
		}
		if st.mode != modeStream {
			return nil, errors.New("a stream of the connection is not a subscriber stream")
		}
		s := handoff.H2Stream{ID: st.id, Sub: handoff.Conn{Handle: uint64(sub), Mode: uint8(modeStream)}}
		ls.exportSub(sub, &st.subState, &s.Sub)
		rec.H2.Streams = append(rec.H2.Streams, s)
	}
	return rec, nil
}

// adoptH2 rebuilds the HTTP/2 connections handed over: each conn (adopted already, in
// modeH2) gets its codec back and its streams in their stream records. Every HTTP/2 conn must
// come with its record, and every record name one: anything else aborts the takeover (the old
// process keeps the connections).
func (s *Server) adoptH2(recs []handoff.H2, now time.Time) error {
	for i := range recs {
		h := engine.Handle(recs[i].Handle)
		if h.Loop() >= len(s.loops) {
			return fmt.Errorf("HTTP/2 connection %d: of loop %d; this process has %d loops", i, h.Loop(), len(s.loops))
		}
		if err := s.loops[h.Loop()].adoptH2Conn(&recs[i], now); err != nil {
			return fmt.Errorf("HTTP/2 connection %d: %w", i, err)
		}
	}
	for _, ls := range s.loops {
		ls.freeUnusedStreams()
		for _, page := range ls.pages {
			for i := range page {
				if c := &page[i]; c.h != 0 && c.mode == modeH2 && c.parser == 0 {
					return errors.New("an HTTP/2 connection came without its codec state")
				}
			}
		}
	}
	return nil
}

var errH2Record = errors.New("HTTP/2 record names no HTTP/2 connection handed over, or again")

// adoptH2Conn gives the adopted conn rec names its codec and streams.
func (ls *loopState) adoptH2Conn(rec *handoff.H2, now time.Time) error {
	h := engine.Handle(rec.Handle)
	c := ls.live(h)
	if c == nil || c.mode != modeH2 || c.parser != 0 {
		return errH2Record
	}
	codec, err := h2.Restore(rec.Codec)
	if err != nil {
		return err
	}
	hc := &h2Conn{codec: codec, pings: rec.Pings}
	ls.attachH2(c, hc)
	ls.s.counters.h2Conns.Add(1)
	ids := codec.StreamIDs(nil)
	for k := range rec.Streams {
		rs := &rec.Streams[k]
		sub := conntable.Sub(rs.Sub.Handle)
		if !sub.IsStream() || sub.Loop() != ls.index || sub.Gen() == 0 || !slices.Contains(ids, rs.ID) ||
			connMode(rs.Sub.Mode) != modeStream || rs.Sub.Minor != framingH2 {
			return fmt.Errorf("stream %d: its record names no open subscriber stream of this connection", rs.ID)
		}
		st := ls.streamAt(sub.Index())
		if st.conn != 0 {
			return fmt.Errorf("stream %d: its stream record is taken twice", rs.ID)
		}
		*st = streamSub{conn: h, id: rs.ID, gen: sub.Gen()}
		st.mode = modeStream
		hc.subs = append(hc.subs, sub)
		ls.adoptSub(sub, &st.subState, &rs.Sub, now)
	}
	return nil
}

// streamAt returns stream record i, adding pages up to it; the free list is made once every
// record is adopted (freeUnusedStreams).
func (ls *loopStreams) streamAt(i int) *streamSub {
	for i/streamPageSize >= len(ls.streamPages) {
		ls.streamPages = append(ls.streamPages, new(streamPage))
	}
	return &ls.streamPages[i/streamPageSize][i%streamPageSize]
}

// freeUnusedStreams makes the free list of the stream records adoption left unused, lowest
// taken first.
func (ls *loopStreams) freeUnusedStreams() {
	ls.freeStreams = ls.freeStreams[:0]
	for i := len(ls.streamPages)*streamPageSize - 1; i >= 0; i-- {
		if ls.streamPages[i/streamPageSize][i%streamPageSize].conn == 0 {
			ls.freeStreams = append(ls.freeStreams, int32(i))
		}
	}
}
