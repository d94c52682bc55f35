package subscribe

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// Poll answers a long-poll (SPEC §3, format=poll): at once when messages newer
// than since are kept for the user or topics, else when one arrives, else 204
// after --poll-timeout. The subscriber is in the table while it waits, so
// pushes reach it like a stream. sub is an HTTP/1.x connection's subscriber
// or an HTTP/2 stream's.
func (ls *SubLoop) Poll(l *engine.Loop, sub conntable.Sub, c *edge.SubState, sn *Subscription) {
	since, hasSince := sn.since, sn.hasSince
	if !hasSince {
		// A first poll waits for what comes next, from any node.
		since = max(ls.s.ids.Last(), push.IDFloor(l.Now()))
	}
	c.Cursor = since
	if hasSince && c.HasUser {
		// since acknowledges what this node answered the user's polls and
		// streams up to it (store/sentlog.go).
		ls.s.SubGlue.Resume(ls.SubUser(c), since, l.Now().UnixMilli())
	}
	c.Format = push.Poll
	c.Minor = sn.Minor
	c.Mode = edge.ModePoll
	c.CloseAfterPoll = !sn.KeepAlive
	c.Origin = sn.origin
	ls.s.Polls.Add(1)
	if c.HasUser {
		ls.s.SubGlue.Fetch(engine.Handle(sub), ls.SubUser(c), since, hasSince, false)
	}
	if !ls.PollAnswer(l, sub, c, nil, false) {
		ls.SetSubTimer(sub, c, edge.TimerPoll, l.Now().Add(ls.s.Cfg.PollTimeout))
	}
}

// PollAnswer answers waiting long-poll subscriber sub through its
// transport; see answerPoll.
func (ls *SubLoop) PollAnswer(l *engine.Loop, sub conntable.Sub, c *edge.SubState, extra []*edge.Message, final bool) bool {
	if sub.IsStream() {
		return ls.s.SubGlue.H2AnswerPoll(l, sub, c, extra, final)
	}
	h := engine.Handle(sub)
	return ls.AnswerPoll(l, h, ls.Live(h), extra, final)
}

// PollInterest tells the recent store to keep what is published for the
// poll's user and topics. It runs before the poll enters the table, and the
// poll looks at the store after: a message published meanwhile is either kept
// for it or handed to it.
func (ls *SubLoop) PollInterest(q *edge.QueryParams, now time.Time) {
	ls.s.Recent.Interest(conntable.Users, q.User, now)
	for _, t := range q.Topics {
		ls.s.Recent.Interest(conntable.Topics, t, now)
	}
}

// AnswerPoll answers a waiting long-poll on an HTTP/1.x connection with
// every kept message newer than its cursor, plus extra. With nothing to send
// it answers 204 only when the wait is over (final); it reports whether it
// answered.
func (ls *SubLoop) AnswerPoll(l *engine.Loop, h engine.Handle, c *edge.ConnState, extra []*edge.Message, final bool) bool {
	body, ok := ls.PollBody(l, h, &c.SubState, extra, final)
	if !ok {
		return false
	}
	keepAlive := httpcodec.PersistClose
	if !c.CloseAfterPoll && !ls.s.Draining.Load() {
		keepAlive = httpcodec.Persist11
		if c.Minor == 0 {
			keepAlive = httpcodec.Persist10
		}
	}
	ls.Out = ls.AppendPollAnswer(ls.Out[:0], keepAlive, c.Origin, body)
	// The answer to the poll request, whether a delivery task, a timer or
	// the request itself makes it: up to --poll-buffer messages per name.
	l.Answer(h, func() { l.Write(h, ls.Out) })

	ls.CancelTimer(c)
	ls.Unsubscribe(l, c)
	c.Mode = edge.ModeRequest
	if !keepAlive.Keep() {
		c.Mode = edge.ModeClosing
		l.CloseAfterFlush(h)
	} else {
		ls.SetTimer(c, edge.TimerIdle, l.Now().Add(edge.KeepAliveIdle))
		l.Resume(h) // requests pipelined behind the poll
	}
	return true
}

// PollBody gathers the answer to waiting long-poll c (whose subscriber
// handle h carries): every kept message newer than its cursor, plus extra,
// as the JSON body in ls.frame (empty: 204). ok is false when there is
// nothing to send and the wait is not over (final).
func (ls *SubLoop) PollBody(l *engine.Loop, h engine.Handle, c *edge.SubState, extra []*edge.Message, final bool) (body []byte, ok bool) {
	msgs := ls.Pending[:0]
	lost := ls.Lost // the user's QoS 1 lost mark (store/lost.go): read from Redis, or by appendNow
	for _, mb := range ls.SubMembers(c) {
		name, g, ok := ls.s.Table.AppendName(ls.Names[:0], mb)
		ls.Names = name
		if !ok {
			continue
		}
		if g == conntable.Users {
			var mark uint64
			msgs, mark = ls.s.SubGlue.AppendNow(msgs, name, l.Now().UnixMilli())
			lost = max(lost, mark)
		}
		msgs = ls.s.Recent.AppendSince(msgs, g, name, c.Cursor)
	}
	for _, m := range extra {
		if m.Seq > c.Cursor || m.QoS == 1 {
			m.RetainN(1)
			msgs = append(msgs, m)
		}
	}
	slices.SortFunc(msgs, func(a, b *edge.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(msgs) == 0 && !final {
		ls.Pending = msgs
		return nil, false
	}
	body = ls.Frame[:0]
	next := c.Cursor
	if len(msgs) > 0 {
		body = append(body, `{"messages":[`...)
		var last uint64
		gap := c.Cursor != 0 && lost > c.Cursor || ls.pollGap(c) // gap.go
		if gap {
			body = push.AppendGapFrame(body, push.Poll, l.Now().UnixMilli(), c.Cursor, nil)
		}
		for _, msg := range msgs {
			if msg.Seq != last && (msg.Seq > c.Cursor || msg.QoS == 1) {
				if last != 0 || gap {
					body = append(body, ',')
				}
				if msg.QoS == 1 && msg.Seq <= c.Cursor && ls.sentBefore(msg) {
					body = push.AppendResendFrame(body, push.Poll, &msg.Message, ls.s.Boundary)
				} else {
					body = append(body, msg.Frame(push.Poll, ls.s.Boundary).Raw...)
				}
				if msg.QoS == 1 {
					ls.NoteSent(l, h, msg)
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
	ls.Frame = body
	clear(msgs)
	ls.Pending = msgs[:0]
	return body, true
}

// AppendPollAnswer appends a long-poll's answer: 200 with body, or 204
// when body is empty.
func (ls *SubLoop) AppendPollAnswer(dst []byte, keepAlive httpcodec.Persist, origin uint8, body []byte) []byte {
	status := 200
	if len(body) == 0 {
		status = 204
	}
	dst = httpcodec.AppendResponseHead(dst, status, keepAlive)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = ls.s.AppendCORS(dst, origin)
	if status == 204 {
		return append(dst, "\r\n"...)
	}
	ls.MessagesOut.Add(1)
	return httpcodec.AppendBody(dst, "application/json", body)
}

// sentBefore reports whether this node already answered or wrote the QoS 1
// user message m to one of its user's connections (store/sentlog.go): a long-poll
// answers it again flagged as a resend.
func (ls *SubLoop) sentBefore(m *edge.Message) bool {
	user, ok := push.UserOf(m.To)
	if !ok {
		return false
	}
	entries := ls.s.Sent.AppendEntries(ls.SentScratch[:0], user)
	_, toAny := store.SentTo(entries, 0, m.Seq)
	clear(entries)
	ls.SentScratch = entries[:0]
	return toAny
}
