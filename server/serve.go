package server

import (
	"errors"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// serve parses and answers the requests in in, pipelined ones included, and
// returns the bytes consumed; an unfinished request stays with the engine and
// comes back, extended, with the next read.
func (ls *loopState) serve(l *engine.Loop, h engine.Handle, c *connState, in []byte) int {
	off := 0
	for off < len(in) && c.mode == modeRequest {
		if off > 0 && l.Congested(h) {
			// The client is not reading its answers: stop at a request
			// boundary; the engine carries the rest and resumes us.
			return off
		}
		if ls.holdForHandoff(h) {
			return off // carried into the handoff's record (handoffhold.go)
		}
		if q := ls.pipeOf(h); q != nil && q.n >= maxInFlight {
			// A full answer queue: not even a malformed request may be
			// parsed now, as its refusal would need a slot (pipeline.go);
			// nor may a header timer run. Read on when the oldest is answered.
			q.wait, c.mode = waitRoom, modeAsync
			return off
		}
		if c.parser == 0 {
			ls.takeParser(c)
		}
		p := ls.parsers[c.parser-1]
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
			case !idle && c.timerKind != timerHeader:
				ls.setTimer(c, timerHeader, l.Now().Add(ls.s.cfg.HeaderTimeout))
			case idle && c.timerKind == timerNone:
				// Only the CRLF some clients send after a body: the
				// connection idles as after any answer, no 408 for it.
				ls.setTimer(c, timerIdle, l.Now().Add(keepAliveIdle))
			}
			if p.HeadComplete() && !c.sentContinue && p.Request().ExpectContinue() {
				c.sentContinue = true
				// Behind the answers in flight, if any: it is no answer to them.
				ls.reply(l, h, continueLine(p.Request().Minor()))
			}
			return off
		}
		req := p.Request()
		c.sentContinue = false
		ls.cancelTimer(c)
		keepAlive := req.KeepAlive() && !ls.s.draining.Load()
		if c.listener == listenerAPI && ls.waitPipe(c, req, keepAlive) {
			ls.releaseParser(c)
			return off // read again once earlier answers are written (pipeline.go)
		}
		if c.listener == listenerAPI {
			ls.serveAPI(l, h, c, req)
		} else {
			ls.serveEdge(l, h, c, req)
		}
		ls.releaseParser(c)
		off += n
		if c.mode != modeRequest {
			break
		}
		if !keepAlive {
			c.mode = modeClosing
			l.CloseAfterFlush(h)
			return len(in)
		}
	}
	if c.mode == modeRequest && c.timerKind == timerNone {
		ls.setTimer(c, timerIdle, l.Now().Add(keepAliveIdle))
	}
	switch c.mode {
	case modeAsync, modePoll:
		return off // the rest waits in the engine's carry for the answer
	case modeStream:
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
func (ls *loopState) parserLimits(listener uint8) httpcodec.Limits {
	cfg := &ls.s.cfg
	lim := httpcodec.Limits{MaxRequestLine: cfg.MaxHeaderBytes, MaxHeaderBytes: cfg.MaxHeaderBytes, MaxBody: 4096}
	if listener == listenerAPI {
		lim.MaxBody = int64(cfg.MaxBatchBytes)
	}
	return lim
}

// takeParser gives c a pooled parser for the request it is receiving: idle
// connections hold none.
func (ls *loopState) takeParser(c *connState) {
	var i int32
	if n := len(ls.freeParsers); n > 0 {
		i = ls.freeParsers[n-1]
		ls.freeParsers = ls.freeParsers[:n-1]
	} else {
		ls.parsers = append(ls.parsers, new(httpcodec.Parser))
		i = int32(len(ls.parsers))
	}
	ls.parsers[i-1].Reset(ls.parserLimits(c.listener))
	c.parser = i
}

func (ls *loopState) releaseParser(c *connState) {
	if c.parser != 0 {
		ls.freeParsers = append(ls.freeParsers, c.parser)
		c.parser = 0
	}
}

// refuse answers status with a JSON error and closes once it is written.
func (ls *loopState) refuse(l *engine.Loop, h engine.Handle, c *connState, status int, reason string) {
	ls.out = httpcodec.AppendErrorResponse(ls.out[:0], status, reason, httpcodec.PersistClose)
	c.mode = modeClosing
	ls.cancelTimer(c)
	if ls.closeAfterPipe(h, ls.out) {
		return // after the answers in flight (pipeline.go)
	}
	l.Write(h, ls.out)
	l.CloseAfterFlush(h)
}
