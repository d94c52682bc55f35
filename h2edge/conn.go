package h2edge

import (
	"bytes"
	"strings"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec/h2"
	"github.com/pushwire/pushwire/push"
)

// h2Conn is what an HTTP/2 connection holds beyond its edge.ConnState: the
// codec and its subscribers. Reached by ConnState.Parser (1-based into
// H2Loop.h2s) while the connection is in edge.ModeH2.
type h2Conn struct {
	codec *h2.Conn
	subs  []conntable.Sub // its stream subscribers and streams awaiting an answer
	turn  int64           // the loop turn (its clock, l.Now) of the last push written here (slow.go)
	pings uint8           // PINGs sent and not yet acknowledged
	burst bool            // the codec's queue came into that turn within --write-buffer-limit
}

// h2Ping is the payload of our dead-peer PINGs.
var h2Ping = [8]byte{'p', 'u', 's', 'h', 'w', 'i', 'r', 'e'}

// errH2Closed closes a connection whose HTTP/2 session ended (GOAWAY, a
// connection error, or a peer that stopped answering PING).
var errH2Closed = edge.CloseReason("server: HTTP/2 connection ended")

// SpeaksH2 reports whether connection h's first bytes in (none consumed
// yet) start HTTP/2: by ALPN on TLS, by the client preface in plaintext.
// more is true while the bytes so far could still be the preface.
func (ls *H2Loop) SpeaksH2(l *engine.Loop, h engine.Handle, in []byte) (isH2, more bool) {
	if _, alpn, ok := l.TLSState(h); ok {
		return alpn == "h2", false
	}
	switch h2.DetectPreface(in) {
	case h2.IsH2:
		return true, false
	case h2.NeedMore:
		return false, true
	}
	return false, false
}

// StartH2 turns c into an HTTP/2 connection: our SETTINGS go out at once,
// and the header timeout keeps running until the preface and SETTINGS
// exchange is done (EventReady).
func (ls *H2Loop) StartH2(l *engine.Loop, h engine.Handle, c *edge.ConnState) {
	cfg := &ls.s.Cfg
	hc := &h2Conn{codec: h2.NewConn(h2.Config{MaxStreams: cfg.H2MaxStreams, MaxHeaderBytes: cfg.MaxHeaderBytes})}
	ls.attachH2(c, hc)
	c.Mode = edge.ModeH2
	ls.s.H2Conns.Add(1)
	ls.h2out = hc.codec.Start(ls.h2out[:0])
	l.Write(h, ls.h2out)
}

// attachH2 gives c the HTTP/2 state hc (c.Parser names it).
func (ls *H2Loop) attachH2(c *edge.ConnState, hc *h2Conn) {
	if n := len(ls.freeH2); n > 0 {
		c.Parser = ls.freeH2[n-1]
		ls.freeH2 = ls.freeH2[:n-1]
		ls.h2s[c.Parser-1] = hc
	} else {
		ls.h2s = append(ls.h2s, hc)
		c.Parser = int32(len(ls.h2s))
	}
}

// h2Of returns the HTTP/2 state of connection h; nil when h is not one.
func (ls *H2Loop) h2Of(h engine.Handle) *h2Conn {
	c := ls.Live(h)
	if c == nil || c.Mode != edge.ModeH2 || c.Parser == 0 {
		return nil
	}
	return ls.h2s[c.Parser-1]
}

// FeedH2 hands in to the codec and acts on its events. Whatever is written
// for the connection on this loop turn (the codec's own frames, answers,
// every stream's DATA) leaves in one write at the turn's flush.
func (ls *H2Loop) FeedH2(l *engine.Loop, h engine.Handle, c *edge.ConnState, in []byte) int {
	hc, all := ls.h2s[c.Parser-1], len(in)
	for {
		out, n, ev := hc.codec.Feed(ls.h2out[:0], in)
		ls.h2out = out
		l.Write(h, out)
		in = in[n:]
		switch ev.Kind {
		case h2.EventNone:
			return all // in is used up
		case h2.EventReady:
			if c.TimerKind == edge.TimerHeader {
				c.TimerKind = edge.TimerNone
			}
			c.At = ls.s.StampOf(l.Now())
		case h2.EventRequest:
			ls.h2Request(l, h, hc, ev.Stream)
		case h2.EventReset:
			ls.h2StreamGone(l, hc, ev.Stream)
		case h2.EventPingAck:
			hc.pings = 0
		case h2.EventGoAway:
			if hc.codec.NumStreams() == 0 {
				l.CloseAfterFlush(h)
				return all
			}
		case h2.EventConnError:
			ls.endH2(l, h, c)
			return all
		}
	}
}

// h2Answer writes answer, one of our own HTTP/1.1 answers (status line,
// fields, blank line, body), as the answer on stream id of connection conn:
// the same status, fields and body bytes, in HEADERS and DATA frames,
// ending the stream unless open (a stream's head). The connection-specific
// fields of HTTP/1.1 (Connection, Transfer-Encoding, ...) are left out, as
// RFC 9113 §8.2.2 requires (the codec drops them).
func (ls *H2Loop) h2Answer(l *engine.Loop, conn engine.Handle, hc *h2Conn, id uint32, answer []byte, head, open bool) {
	status, fields, body := ls.h2Fields(answer)
	if head {
		body = nil
	}
	end := !open && len(body) == 0
	out, err := hc.codec.WriteHeaders(ls.h2out[:0], id, status, fields, end)
	clear(fields) // the head's string is garbage now, not kept by the loop
	if err == nil && len(body) > 0 {
		out, _ = hc.codec.WriteData(out, id, body, !open)
	}
	ls.h2out = out
	l.Write(conn, out)
}

// h2Fields splits one of our HTTP/1.1 answers into status, fields and body.
// The fields are strings cut from one copy of the answer's head: one
// allocation per answer (answers are not a hot path; pushes never come
// here), not one per field.
func (ls *H2Loop) h2Fields(answer []byte) (int, []h2.Field, []byte) {
	status := int(answer[9]-'0')*100 + int(answer[10]-'0')*10 + int(answer[11]-'0')
	line := indexCRLF(answer) + 2
	end := bytes.Index(answer, []byte("\r\n\r\n"))
	if end < line {
		return status, nil, nil
	}
	head := string(answer[line : end+2]) // each field line with its CRLF
	fields := ls.fields[:0]
	for len(head) > 0 {
		i := strings.Index(head, "\r\n")
		if j := strings.IndexByte(head[:i], ':'); j > 0 {
			fields = append(fields, h2.Field{Name: head[:j], Value: strings.TrimLeft(head[j+1:i], " \t")})
		}
		head = head[i+2:]
	}
	ls.fields = fields
	return status, fields, answer[end+4:]
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// H2Data writes b as DATA on subscriber sub's stream. A stream whose window
// stays shut while its queue passes --write-buffer-limit is a slow
// consumer: reset (CANCEL) and counted, and the connection's other streams
// carry on. A connection whose streams' queues together pass it is cut
// whole (slow.go).
func (ls *H2Loop) H2Data(l *engine.Loop, sub conntable.Sub, conn engine.Handle, b []byte) {
	hc, st := ls.h2Of(conn), ls.Stream(sub)
	if hc == nil || st == nil {
		return
	}
	ls.h2Turn(l, hc)
	out, err := hc.codec.WriteData(ls.h2out[:0], st.Id, b, false)
	ls.h2out = out
	l.Write(conn, out)
	if err != nil {
		return
	}
	if hc.codec.Queued(st.Id) > ls.s.Cfg.WriteBufferLimit {
		ls.Drops.Add(1)
		ls.s.H2SlowStreams.Add(1)
		ls.h2Reset(l, hc, sub, conn, h2.Cancel)
	}
	if ls.h2Over(hc) {
		ls.cutSlowH2(l, conn, hc)
	}
}

// H2End ends subscriber sub's stream on connection conn with an empty
// END_STREAM DATA and drops it.
func (ls *H2Loop) H2End(l *engine.Loop, sub conntable.Sub, conn engine.Handle) {
	hc, st := ls.h2Of(conn), ls.Stream(sub)
	if hc == nil || st == nil {
		return
	}
	out, _ := hc.codec.WriteData(ls.h2out[:0], st.Id, nil, true)
	ls.h2out = out
	l.Write(conn, out)
	ls.h2Forget(l, hc, sub)
}

// H2Cancel resets subscriber sub's stream (CANCEL) and drops it; false when
// conn is not an HTTP/2 connection.
func (ls *H2Loop) H2Cancel(l *engine.Loop, sub conntable.Sub, conn engine.Handle) bool {
	hc := ls.h2Of(conn)
	if hc == nil {
		return false
	}
	ls.h2Reset(l, hc, sub, conn, h2.Cancel)
	return true
}

// h2Reset ends stream subscriber sub with RST_STREAM code and drops it.
func (ls *H2Loop) h2Reset(l *engine.Loop, hc *h2Conn, sub conntable.Sub, conn engine.Handle, code h2.ErrCode) {
	if st := ls.Stream(sub); st != nil {
		out, _ := hc.codec.Reset(ls.h2out[:0], st.Id, code)
		ls.h2out = out
		l.Write(conn, out)
	}
	ls.h2Forget(l, hc, sub)
}

// h2Forget drops subscriber sub and takes it off its connection's list.
func (ls *H2Loop) h2Forget(l *engine.Loop, hc *h2Conn, sub conntable.Sub) {
	for i, s := range hc.subs {
		if s == sub {
			last := len(hc.subs) - 1
			hc.subs[i] = hc.subs[last]
			hc.subs = hc.subs[:last]
			break
		}
	}
	ls.DropStream(l, sub)
}

// h2StreamGone drops the subscriber of stream id, which the peer reset.
func (ls *H2Loop) h2StreamGone(l *engine.Loop, hc *h2Conn, id uint32) {
	for _, sub := range hc.subs {
		if st := ls.Stream(sub); st != nil && st.Id == id {
			ls.h2Forget(l, hc, sub)
			return
		}
	}
}

// endH2 closes an HTTP/2 connection once what it was sent (its GOAWAY) is
// written.
func (ls *H2Loop) endH2(l *engine.Loop, h engine.Handle, c *edge.ConnState) {
	ls.CancelTimer(c)
	c.TimerKind = edge.TimerNone
	l.CloseAfterFlush(h)
}

// CloseH2 runs as an HTTP/2 connection closes: every stream subscriber it
// carried leaves, and its state goes back to the loop.
func (ls *H2Loop) CloseH2(l *engine.Loop, c *edge.ConnState) {
	hc := ls.h2s[c.Parser-1]
	for _, sub := range hc.subs {
		ls.DropStream(l, sub)
	}
	ls.h2s[c.Parser-1] = nil
	ls.freeH2 = append(ls.freeH2, c.Parser)
	c.Parser = 0
	ls.s.H2Conns.Add(-1)
}

// DrainH2 sends every stream its reconnect frame and ends it, then GOAWAY;
// the connection closes once that is written.
func (ls *H2Loop) DrainH2(l *engine.Loop, c *edge.ConnState, nowMs int64, spread time.Duration) {
	hc := ls.h2s[c.Parser-1]
	// Backwards: ending one (a poll answered, a slow stream reset) swaps
	// the last into its place, which this walk has visited.
	for i := len(hc.subs) - 1; i >= 0; i-- {
		sub := hc.subs[i]
		st := ls.Stream(sub)
		if st != nil && st.Mode == edge.ModePoll {
			ls.H2AnswerPoll(l, sub, &st.SubState, nil, true) // 204
			continue
		}
		if st == nil || st.Mode != edge.ModeStream {
			continue
		}
		retry := (ls.s.Cfg.Retry + time.Duration(ls.Rng.Uint64()%uint64(spread))).Milliseconds()
		f := st.Format
		ls.FrameTo(l, sub, &st.SubState, c.H, func(dst []byte) []byte {
			return push.AppendReconnectFrame(dst, f, nowMs, retry, ls.s.Boundary)
		})
		if f == push.Multipart {
			ls.FrameTo(l, sub, &st.SubState, c.H, func(dst []byte) []byte {
				return push.AppendMultipartClose(dst, ls.s.Boundary)
			})
		}
		out, _ := hc.codec.WriteData(ls.h2out[:0], st.Id, nil, true)
		ls.h2out = out
		l.Write(c.H, out)
	}
	ls.h2out = hc.codec.GoAway(ls.h2out[:0], h2.NoError)
	l.Write(c.H, ls.h2out)
	c.TimerKind = edge.TimerNone
	l.CloseAfterFlush(c.H)
}

// SweepH2 is the slot sweep's visit to an HTTP/2 connection: the header
// timeout until the handshake is done, then a heartbeat on every quiet
// stream, and a PING when the connection carries none, so that a vanished
// peer is found (TCP_USER_TIMEOUT on the unacknowledged bytes, or two PINGs
// unanswered).
func (ls *H2Loop) SweepH2(l *engine.Loop, c *edge.ConnState, now time.Time, quiet, visitEvery time.Duration) {
	hc := ls.h2s[c.Parser-1]
	if c.TimerKind == edge.TimerHeader {
		if !now.Before(ls.s.TimeOf(c.At)) {
			ls.h2out = hc.codec.GoAway(ls.h2out[:0], h2.SettingsTimeout)
			l.Write(c.H, ls.h2out)
			ls.endH2(l, c.H, c)
		}
		return
	}
	for i := len(hc.subs) - 1; i >= 0; i-- { // backwards: see DrainH2
		sub := hc.subs[i]
		st := ls.Stream(sub)
		if st == nil || st.Mode != edge.ModeStream || st.Timer != 0 && ls.LifeDue(l, sub, &st.SubState, c.H, now, visitEvery) {
			continue
		}
		if now.Sub(ls.s.TimeOf(st.At)) >= quiet {
			ls.Heartbeat(l, sub, &st.SubState, c.H, now)
		}
	}
	if len(hc.subs) > 0 || now.Sub(ls.s.TimeOf(c.At)) < quiet {
		return
	}
	if hc.pings >= 2 {
		l.Close(c.H, errH2Closed)
		return
	}
	hc.pings++
	c.At = ls.s.StampOf(now)
	ls.h2out = hc.codec.Ping(ls.h2out[:0], h2Ping)
	l.Write(c.H, ls.h2out)
}

// TickH2 starts a new window of the codecs' abuse budgets (rapid reset,
// SETTINGS, PING and empty-frame floods) once a second.
func (ls *H2Loop) TickH2(now time.Time) {
	if now.Sub(ls.h2Ticked) < time.Second {
		return
	}
	ls.h2Ticked = now
	for _, hc := range ls.h2s {
		if hc != nil {
			hc.codec.Tick()
		}
	}
}
