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
	"github.com/pushwire/pushwire/store"
)

// poll answers a long-poll (SPEC §3, format=poll): at once when messages newer
// than since are kept for the user or topics, else when one arrives, else 204
// after --poll-timeout. The subscriber is in the table while it waits, so
// pushes reach it like a stream. sub is an HTTP/1.x connection's subscriber
// or an HTTP/2 stream's.
func (ls *loopState) poll(l *engine.Loop, sub conntable.Sub, c *subState, sn *subscription) {
	since, hasSince := sn.since, sn.hasSince
	if !hasSince {
		// A first poll waits for what comes next, from any node.
		since = max(ls.s.ids.Last(), push.IDFloor(l.Now()))
	}
	c.cursor = since
	if hasSince && c.hasUser {
		// since acknowledges what this node answered the user's polls and
		// streams up to it (sentlog.go).
		ls.s.store.resume(ls.subUser(c), since, l.Now().UnixMilli())
	}
	c.format = push.Poll
	c.minor = sn.minor
	c.mode = modePoll
	c.closeAfterPoll = !sn.keepAlive
	c.origin = sn.origin
	ls.s.counters.polls.Add(1)
	if c.hasUser {
		ls.s.store.fetch(engine.Handle(sub), ls.subUser(c), since, hasSince)
	}
	if !ls.pollAnswer(l, sub, c, nil, false) {
		ls.setSubTimer(sub, c, timerPoll, l.Now().Add(ls.s.cfg.PollTimeout))
	}
}

// pollAnswer answers waiting long-poll subscriber sub through its
// transport; see answerPoll.
func (ls *loopState) pollAnswer(l *engine.Loop, sub conntable.Sub, c *subState, extra []*message, final bool) bool {
	if sub.IsStream() {
		return ls.h2AnswerPoll(l, sub, c, extra, final)
	}
	h := engine.Handle(sub)
	return ls.answerPoll(l, h, ls.live(h), extra, final)
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

// answerPoll answers a waiting long-poll on an HTTP/1.x connection with
// every kept message newer than its cursor, plus extra. With nothing to send
// it answers 204 only when the wait is over (final); it reports whether it
// answered.
func (ls *loopState) answerPoll(l *engine.Loop, h engine.Handle, c *connState, extra []*message, final bool) bool {
	body, ok := ls.pollBody(l, h, &c.subState, extra, final)
	if !ok {
		return false
	}
	keepAlive := httpcodec.PersistClose
	if !c.closeAfterPoll && !ls.s.draining.Load() {
		keepAlive = httpcodec.Persist11
		if c.minor == 0 {
			keepAlive = httpcodec.Persist10
		}
	}
	ls.out = ls.appendPollAnswer(ls.out[:0], keepAlive, c.origin, body)
	// The answer to the poll request, whether a delivery task, a timer or
	// the request itself makes it: up to --poll-buffer messages per name.
	l.Answer(h, func() { l.Write(h, ls.out) })

	ls.cancelTimer(c)
	ls.unsubscribe(l, c)
	c.mode = modeRequest
	if !keepAlive.Keep() {
		c.mode = modeClosing
		l.CloseAfterFlush(h)
	} else {
		ls.setTimer(c, timerIdle, l.Now().Add(keepAliveIdle))
		l.Resume(h) // requests pipelined behind the poll
	}
	return true
}

// pollBody gathers the answer to waiting long-poll c (whose subscriber
// handle h carries): every kept message newer than its cursor, plus extra,
// as the JSON body in ls.frame (empty: 204). ok is false when there is
// nothing to send and the wait is not over (final).
func (ls *loopState) pollBody(l *engine.Loop, h engine.Handle, c *subState, extra []*message, final bool) (body []byte, ok bool) {
	msgs := ls.pending[:0]
	for _, mb := range ls.subMembers(c) {
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
		return nil, false
	}
	body = ls.frame[:0]
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
	return body, true
}

// appendPollAnswer appends a long-poll's answer: 200 with body, or 204
// when body is empty.
func (ls *loopState) appendPollAnswer(dst []byte, keepAlive httpcodec.Persist, origin uint8, body []byte) []byte {
	status := 200
	if len(body) == 0 {
		status = 204
	}
	dst = httpcodec.AppendResponseHead(dst, status, keepAlive)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = ls.s.appendCORS(dst, origin)
	if status == 204 {
		return append(dst, "\r\n"...)
	}
	ls.messagesOut.Add(1)
	return httpcodec.AppendBody(dst, "application/json", body)
}

// sentBefore reports whether this node already answered or wrote the QoS 1
// user message m to one of its user's connections (sentlog.go): a long-poll
// answers it again flagged as a resend.
func (ls *loopState) sentBefore(m *message) bool {
	user, ok := push.UserOf(m.To)
	if !ok {
		return false
	}
	entries := ls.s.sent.AppendEntries(ls.sentScratch[:0], user)
	_, toAny := store.SentTo(entries, 0, m.Seq)
	clear(entries)
	ls.sentScratch = entries[:0]
	return toAny
}
