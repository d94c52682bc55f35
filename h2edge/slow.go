package h2edge

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec/h2"
)

// --write-buffer-limit for an HTTP/2 connection as a whole (SPEC §7). DATA
// the client's flow-control windows do not let out waits in the codec, a
// queue per stream (httpcodec/h2 send.go), where the engine's pending count
// does not see it. Two rules bound it, both checked where a push queues
// DATA (H2Data):
//
//   - a stream whose own queue passes the limit is a slow consumer on its
//     own: reset (CANCEL), counted in h2_slow_streams, and the connection's
//     other streams carry on;
//   - the connection's queues together (QueuedTotal) are held to the limit
//     as the engine holds a connection's pending output: what a connection
//     carries from one loop turn into the next is at most the limit; one
//     that came into the turn within it may take that turn's burst up to
//     h2BurstFactor times it. Past that, the connection is the slow
//     consumer: GOAWAY ENHANCE_YOUR_CALM, closed once that is written,
//     counted as an HTTP/1.1 one is (slow_consumers, drops).
//
// Without the second rule a client that keeps its stream windows open and
// never gives back the connection window had every stream queue to just
// under the limit: --h2-max-streams times it (25.6 MiB by default) for one
// unauthenticated connection (review 7, finding 6). The burst allowance is
// the engine's, for the same reason (engine/backpressure.go): a broadcast
// puts one frame on every stream of a connection in one turn, and a client
// that keeps the RFC's 65,535-byte connection window and gives it back as it
// reads holds most of that burst in the codec for a round trip.
//
// Why ENHANCE_YOUR_CALM (RFC 9113 §7): the client broke no rule, since
// holding back WINDOW_UPDATE is its right (§5.2), so FLOW_CONTROL_ERROR
// and PROTOCOL_ERROR would blame it for what it may do; NO_ERROR is the
// graceful GOAWAY of a drain, which leaves open streams running; CANCEL is
// a stream's code. ENHANCE_YOUR_CALM is for a peer "exhibiting a behavior
// that might be generating excessive load", and §10.5 lets an endpoint treat
// a use of the protocol that commits it to too much state as a connection
// error of that type; the codec's own budgets end with it too.

// h2BurstFactor is the engine's ownWriteFactor: the multiple of
// --write-buffer-limit a connection that came into a loop turn within the
// limit may queue in that turn.
const h2BurstFactor = 16

// h2Turn runs before a connection's DATA is written: at its first write of a
// loop turn it notes whether its codec's queue came into the turn within
// the limit, which lets the turn's burst go past it.
func (ls *H2Loop) h2Turn(l *engine.Loop, hc *h2Conn) {
	if now := l.Now().UnixNano(); hc.turn != now {
		hc.turn = now
		hc.burst = hc.codec.QueuedTotal() <= ls.s.Cfg.WriteBufferLimit
	}
}

// h2Over reports whether connection hc's queued DATA is past what it may
// hold now (see the rules above).
func (ls *H2Loop) h2Over(hc *h2Conn) bool {
	limit := ls.s.Cfg.WriteBufferLimit
	if hc.burst {
		limit *= h2BurstFactor
	}
	return hc.codec.QueuedTotal() > limit
}

// cutSlowH2 ends connection h, whose queued DATA is over the limit, as a
// slow consumer: GOAWAY ENHANCE_YOUR_CALM (the codec drops every queue at
// once), the close once that is written, and the count. Its subscribers
// leave when it closes (CloseH2).
func (ls *H2Loop) cutSlowH2(l *engine.Loop, h engine.Handle, hc *h2Conn) {
	queued := hc.codec.QueuedTotal()
	ls.h2out = hc.codec.GoAway(ls.h2out[:0], h2.EnhanceYourCalm)
	l.Write(h, ls.h2out)
	if l.Pending(h) == 0 {
		// The engine took no GOAWAY: its own pending output is over the
		// limit too, so it closes the connection as a slow consumer at this
		// turn's flush and counts it (slow_consumers, and drops in OnClose).
		return
	}
	ls.Drops.Add(1)
	ls.s.H2SlowConns.Add(1)
	if ls.s.Debug {
		ls.s.Log.Debug("slow consumer cut", "handle", uint64(h), "h2_queued", queued, "pending_limit", ls.s.Cfg.WriteBufferLimit)
	}
	if c := ls.Live(h); c != nil {
		ls.endH2(l, h, c)
	}
}
