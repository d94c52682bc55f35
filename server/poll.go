package server

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// poll answers a long-poll (SPEC §3, format=poll): at once when messages newer
// than since are kept for the user or topics, else when one arrives, else 204
// after --poll-timeout. The connection is in the table while it waits, so
// pushes reach it like a stream.
func (ls *loopState) poll(l *engine.Loop, h engine.Handle, c *connState, sub *subscription) {
	since, hasSince := sub.since, sub.hasSince
	if !hasSince {
		// A first poll waits for what comes next, from any node.
		since = max(ls.s.seq.Load(), idFloor(l.Now()))
	}
	c.cursor = since
	if hasSince && c.hasUser {
		// since acknowledges what this node answered the user's polls and
		// streams up to it (sentlog.go).
		ls.s.store.resume(ls.userName(c), since, l.Now().UnixMilli())
	}
	c.format = push.Poll
	c.minor = sub.minor
	c.mode = modePoll
	c.closeAfterPoll = !sub.keepAlive
	c.origin = sub.origin
	ls.s.counters.polls.Add(1)
	if c.hasUser {
		ls.s.store.fetch(h, ls.userName(c), since, hasSince)
	}
	if !ls.answerPoll(l, h, c, nil, false) {
		ls.setTimer(c, timerPoll, l.Now().Add(ls.s.cfg.PollTimeout))
	}
}

// pollInterest tells the recent store to keep what is published for the
// poll's user and topics. It runs before the poll enters the table, and the
// poll looks at the store after: a message published meanwhile is either kept
// for it or handed to it.
func (ls *loopState) pollInterest(q *queryParams, now time.Time) {
	ls.s.recent.Interest(conntable.Users, q.user, now)
	for _, t := range q.topics {
		ls.s.recent.Interest(conntable.Topics, t, now)
	}
}

// answerPoll answers a waiting long-poll with every kept message newer than
// its cursor, plus extra. With nothing to send it answers 204 only when the wait
// is over (final); it reports whether it answered.
func (ls *loopState) answerPoll(l *engine.Loop, h engine.Handle, c *connState, extra []*message, final bool) bool {
	msgs := ls.pending[:0]
	for _, mb := range ls.memberships(c) {
		name, g, ok := ls.s.table.AppendName(ls.names[:0], mb)
		ls.names = name
		if !ok {
			continue
		}
		if g == conntable.Users {
			msgs = ls.s.store.appendNow(msgs, name, l.Now().UnixMilli())
		}
		msgs = ls.s.recent.AppendSince(msgs, g, name, c.cursor)
	}
	for _, m := range extra {
		if m.Seq > c.cursor || m.QoS == 1 {
			m.retain(1)
			msgs = append(msgs, m)
		}
	}
	slices.SortFunc(msgs, func(a, b *message) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(msgs) == 0 && !final {
		ls.pending = msgs
		return false
	}
	keepAlive := persistClose
	if !c.closeAfterPoll && !ls.s.draining.Load() {
		keepAlive = persist11
		if c.minor == 0 {
			keepAlive = persist10
		}
	}
	body := ls.frame[:0]
	next := c.cursor
	if len(msgs) > 0 {
		body = append(body, `{"messages":[`...)
		var last uint64
		gap := ls.pollGap(c) // gap.go
		if gap {
			body = push.AppendGapFrame(body, push.Poll, l.Now().UnixMilli(), c.cursor, nil)
		}
		for _, msg := range msgs {
			if msg.Seq != last && (msg.Seq > c.cursor || msg.QoS == 1) {
				if last != 0 || gap {
					body = append(body, ',')
				}
				if msg.QoS == 1 && msg.Seq <= c.cursor && ls.sentBefore(msg) {
					body = push.AppendResendFrame(body, push.Poll, &msg.Message, ls.s.boundary)
				} else {
					body = append(body, msg.frame(push.Poll, ls.s.boundary).raw...)
				}
				if msg.QoS == 1 {
					ls.noteSent(l, h, msg)
				}
				last = msg.Seq
			}
			l.Defer(msg)
		}
		next = max(next, last)
		body = append(body, `],"next":"`...)
		body = strconv.AppendUint(body, next, 10)
		body = append(body, `"}`...)
	}
	ls.frame = body
	clear(msgs)
	ls.pending = msgs[:0]

	status := 200
	if len(body) == 0 {
		status = 204
	}
	dst := appendResponseHead(ls.out[:0], status, keepAlive)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = ls.s.appendCORS(dst, c.origin)
	if status == 204 {
		ls.out = append(dst, "\r\n"...)
	} else {
		ls.out = appendBody(dst, "application/json", body)
		ls.messagesOut.Add(1)
	}
	// The answer to the poll request, whether a delivery task, a timer or
	// the request itself makes it: up to --poll-buffer messages per name.
	l.Answer(h, func() { l.Write(h, ls.out) })

	ls.cancelTimer(c)
	ls.unsubscribe(l, c)
	c.mode = modeRequest
	if !keepAlive.keep() {
		c.mode = modeClosing
		l.CloseAfterFlush(h)
	} else {
		ls.setTimer(c, timerIdle, l.Now().Add(keepAliveIdle))
		l.Resume(h) // requests pipelined behind the poll
	}
	return true
}

// sentBefore reports whether this node already answered or wrote the QoS 1
// user message m to one of its user's connections (sentlog.go): a long-poll
// answers it again flagged as a resend.
func (ls *loopState) sentBefore(m *message) bool {
	user, ok := push.UserOf(m.To)
	if !ok {
		return false
	}
	entries := ls.s.sent.appendEntries(ls.sentScratch[:0], user)
	_, toAny := sentTo(entries, 0, m.Seq)
	clear(entries)
	ls.sentScratch = entries[:0]
	return toAny
}
