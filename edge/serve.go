package edge

import (
	"errors"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// serve parses and answers the requests in in, pipelined ones included, and
// returns the bytes consumed; an unfinished request stays with the engine and
// comes back, extended, with the next read.
func (ls *Loop) serve(l *engine.Loop, h engine.Handle, c *ConnState, in []byte) int {
	off := 0
	for off < len(in) && c.Mode == ModeRequest {
		if off > 0 && l.Congested(h) {
			// The client is not reading its answers: stop at a request
			// boundary; the engine carries the rest and resumes us.
			return off
		}
		if ls.s.Glue.HoldRequest(l, h, c) {
			// Not now (a handoff quiescing, a full answer queue): the engine
			// carries the bytes; the holder resumes h.
			return off
		}
		if c.Parser == 0 {
			ls.takeParser(c)
		}
		p := ls.parsers[c.Parser-1]
		n, err := p.Parse(in[off:])
		if err != nil {
			var perr *httpcodec.Error
			status, reason := 400, "malformed request"
			if errors.As(err, &perr) {
				status, reason = perr.Status, perr.Reason
			}
			ls.releaseParser(c)
			ls.refuse(l, h, c, status, reason)
			return len(in)
		}
		if n == 0 {
			switch idle := p.Idle(); {
			case !idle && c.TimerKind != TimerHeader:
				ls.SetTimer(c, TimerHeader, l.Now().Add(ls.s.Cfg.HeaderTimeout))
			case idle && c.TimerKind == TimerNone:
				// Only the CRLF some clients send after a body: the
				// connection idles as after any answer, no 408 for it.
				ls.SetTimer(c, TimerIdle, l.Now().Add(KeepAliveIdle))
			}
			if p.HeadComplete() && !c.sentContinue && p.Request().ExpectContinue() {
				c.sentContinue = true
				// Behind the answers in flight, if any: it is no answer to them.
				ls.s.Glue.Reply(l, h, continueLine(p.Request().Minor()))
			}
			return off
		}
		req := p.Request()
		c.sentContinue = false
		ls.CancelTimer(c)
		keepAlive := req.KeepAlive() && !ls.s.Draining.Load()
		if c.Listener == ListenerAPI && ls.s.Glue.WaitPipe(l, c, req, keepAlive) {
			ls.releaseParser(c)
			return off // read again once earlier answers are written (publish/pipeline.go)
		}
		ls.s.Glue.Serve[c.Listener](l, h, c, req) // serveAPI, serveEdge
		ls.releaseParser(c)
		off += n
		if c.Mode != ModeRequest {
			break
		}
		if !keepAlive {
			c.Mode = ModeClosing
			l.CloseAfterFlush(h)
			return len(in)
		}
	}
	if c.Mode == ModeRequest && c.TimerKind == TimerNone {
		ls.SetTimer(c, TimerIdle, l.Now().Add(KeepAliveIdle))
	}
	switch c.Mode {
	case ModeAsync, ModePoll:
		return off // the rest waits in the engine's carry for the answer
	case ModeStream:
		ls.noise(l, h, c, len(in)-off)
	}
	return len(in)
}

// continueLine is the interim answer to Expect: 100-continue, sent once the
// head is in and before the body, in the request's HTTP version.
func continueLine(minor int) []byte {
	if minor == 0 {
		return continue10
	}
	return continue11
}

var (
	continue10 = []byte("HTTP/1.0 100 Continue\r\n\r\n")
	continue11 = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

// parserLimits are the request limits of a listener.
func (ls *Loop) parserLimits(listener uint8) httpcodec.Limits {
	cfg := &ls.s.Cfg
	lim := httpcodec.Limits{MaxRequestLine: cfg.MaxHeaderBytes, MaxHeaderBytes: cfg.MaxHeaderBytes, MaxBody: 4096}
	if listener == ListenerAPI {
		lim.MaxBody = int64(cfg.MaxBatchBytes)
	}
	return lim
}

// takeParser gives c a pooled parser for the request it is receiving: idle
// connections hold none.
func (ls *Loop) takeParser(c *ConnState) {
	var i int32
	if n := len(ls.freeParsers); n > 0 {
		i = ls.freeParsers[n-1]
		ls.freeParsers = ls.freeParsers[:n-1]
	} else {
		ls.parsers = append(ls.parsers, new(httpcodec.Parser))
		i = int32(len(ls.parsers))
	}
	ls.parsers[i-1].Reset(ls.parserLimits(c.Listener))
	c.Parser = i
}

func (ls *Loop) releaseParser(c *ConnState) {
	if c.Parser != 0 {
		ls.freeParsers = append(ls.freeParsers, c.Parser)
		c.Parser = 0
	}
}

// refuse answers status with a JSON error and closes once it is written.
func (ls *Loop) refuse(l *engine.Loop, h engine.Handle, c *ConnState, status int, reason string) {
	ls.Out = httpcodec.AppendErrorResponse(ls.Out[:0], status, reason, httpcodec.PersistClose)
	c.Mode = ModeClosing
	ls.CancelTimer(c)
	if ls.s.Glue.CloseAfterPipe(l, h, ls.Out) {
		return // after the answers in flight (publish/pipeline.go)
	}
	l.Write(h, ls.Out)
	l.CloseAfterFlush(h)
}
