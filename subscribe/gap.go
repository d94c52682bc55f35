package subscribe

import (
	"strconv"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// Gap signal and ?last=N (SPEC §3), over the topic history (--topic-history)
// and the long-poll buffer (--poll-buffer): a stream resumed from an id older
// than what a subscribed topic's history still holds starts with the gap
// control frame, and so does a long-poll answer (its first "messages" entry)
// whose cursor is older than what is kept for its user or topics; a first
// subscribe with ?last=N gets the newest N messages of each subscribed
// topic's history before anything live.

// maxLast bounds ?last=N; a topic never keeps more than --topic-history.
const maxLast = 1 << 20

// parseLast reads ?last=N: empty is 0 (nothing asked).
func parseLast(v []byte) (int, bool) {
	if len(v) == 0 {
		return 0, true
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil || n > maxLast {
		return 0, false
	}
	return int(n), true
}

// writeGapIfMissed writes the gap frame when the user's QoS 1 mailbox lost
// a message newer than since (lost, its mark: store/lost.go) or some topic's
// history let go of one: the client missed it.
func (ls *SubLoop) writeGapIfMissed(l *engine.Loop, sub conntable.Sub, c *edge.SubState, conn engine.Handle, topics [][]byte, since, lost uint64, nowMs int64) bool {
	if lost > since || ls.topicGap(topics, since) {
		ls.WriteGap(l, sub, c, conn, since, nowMs)
		return true
	}
	return false
}

// topicGap reports whether some topic's history let go of a message newer
// than since.
func (ls *SubLoop) topicGap(topics [][]byte, since uint64) bool {
	for _, t := range topics {
		if ls.s.Recent.Gap(conntable.Topics, t, since) {
			return true
		}
	}
	return false
}

// WriteGap writes the gap frame for a resume from since.
func (ls *SubLoop) WriteGap(l *engine.Loop, sub conntable.Sub, c *edge.SubState, conn engine.Handle, since uint64, nowMs int64) {
	ls.FrameTo(l, sub, c, conn, func(dst []byte) []byte {
		return push.AppendGapFrame(dst, c.Format, nowMs, since, ls.s.Boundary)
	})
}

// pollGap reports whether a long-poll's cursor is older than what is still
// kept for one of its names (--poll-buffer, --topic-history): messages it
// asked for were let go of before it came back.
func (ls *SubLoop) pollGap(c *edge.SubState) bool {
	for _, mb := range ls.SubMembers(c) {
		name, g, ok := ls.s.Table.AppendName(ls.Names[:0], mb)
		ls.Names = name
		if ok && ls.s.Recent.Gap(g, name, c.Cursor) {
			return true
		}
	}
	return false
}

// appendLast appends the newest n messages of each topic's history, each
// with a reference the caller releases.
func (s *Subscribing) appendLast(dst []*edge.Message, topics [][]byte, n int) []*edge.Message {
	for _, t := range topics {
		dst = s.Recent.AppendLast(dst, conntable.Topics, t, n)
	}
	return dst
}
