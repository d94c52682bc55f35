package server

import (
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// drain runs on each loop when the node drains (SPEC §10): every stream gets
// the reconnect control frame with a retry spread over the drain window, so
// clients do not all come back in the same instant, and is closed once the
// frame is written; waiting long-polls get 204; idle edge connections close.
func (ls *Loop) drain(l *engine.Loop) {
	nowMs := l.Now().UnixMilli()
	spread := max(ls.s.cfg.Drain/2, time.Second)
	for _, page := range ls.pages {
		for i := range page {
			if c := &page[i]; c.h != 0 && c.listener == listenerEdge {
				ls.drainConn(l, c, nowMs, spread)
			}
		}
	}
}

func (ls *Loop) drainConn(l *engine.Loop, c *connState, nowMs int64, spread time.Duration) {
	switch c.mode {
	case modeStream:
		retry := (ls.s.cfg.Retry + time.Duration(ls.rng.Uint64()%uint64(spread))).Milliseconds()
		f := c.format
		ls.writeFrame(l, c.h, c, func(dst []byte) []byte {
			return push.AppendReconnectFrame(dst, f, nowMs, retry, ls.s.boundary)
		})
		if f == push.Multipart {
			ls.writeFrame(l, c.h, c, func(dst []byte) []byte {
				return push.AppendMultipartClose(dst, ls.s.boundary)
			})
		}
		if c.minor == 1 {
			l.Write(c.h, lastChunk)
		}
		ls.cancelTimer(c)
		c.mode = modeClosing
		l.CloseAfterFlush(c.h)
	case modeH2:
		ls.s.glue.drainH2(l, c, nowMs, spread)
	case modePoll:
		c.closeAfterPoll = true
		ls.s.glue.answerPoll(l, c.h, c, nil, true)
	case modeRequest:
		if c.parser == 0 {
			l.Close(c.h, errDraining)
		}
	}
}

// lastChunk ends a chunked stream; one shared copy, written by reference.
var lastChunk = httpcodec.AppendLastChunk(nil)

var errDraining = closeReason("server: node draining")
