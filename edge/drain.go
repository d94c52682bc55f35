package edge

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
	spread := max(ls.s.Cfg.Drain/2, time.Second)
	for _, page := range ls.Pages {
		for i := range page {
			if c := &page[i]; c.H != 0 && c.Listener == ListenerEdge {
				ls.DrainConn(l, c, nowMs, spread)
			}
		}
	}
}

func (ls *Loop) DrainConn(l *engine.Loop, c *ConnState, nowMs int64, spread time.Duration) {
	switch c.Mode {
	case ModeStream:
		retry := (ls.s.Cfg.Retry + time.Duration(ls.Rng.Uint64()%uint64(spread))).Milliseconds()
		f := c.Format
		ls.writeFrame(l, c.H, c, func(dst []byte) []byte {
			return push.AppendReconnectFrame(dst, f, nowMs, retry, ls.s.Boundary)
		})
		if f == push.Multipart {
			ls.writeFrame(l, c.H, c, func(dst []byte) []byte {
				return push.AppendMultipartClose(dst, ls.s.Boundary)
			})
		}
		if c.Minor == 1 {
			l.Write(c.H, LastChunk)
		}
		ls.CancelTimer(c)
		c.Mode = ModeClosing
		l.CloseAfterFlush(c.H)
	case ModeH2:
		ls.s.Glue.DrainH2(l, c, nowMs, spread)
	case ModePoll:
		c.CloseAfterPoll = true
		ls.s.Glue.AnswerPoll(l, c.H, c, nil, true)
	case ModeRequest:
		if c.Parser == 0 {
			l.Close(c.H, errDraining)
		}
	}
}

// LastChunk ends a chunked stream; one shared copy, written by reference.
var LastChunk = httpcodec.AppendLastChunk(nil)

var errDraining = CloseReason("server: node draining")
