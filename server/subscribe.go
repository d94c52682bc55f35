package server

import (
	"slices"
	"strconv"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// subscribe starts a stream (or a long-poll) for the request: SPEC §3.
func (ls *loopState) subscribe(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request) {
	ls.query = parseQuery(&ls.q, req.Query(), ls.query[:0])
	q := &ls.q
	if q.bad {
		ls.answerError(l, h, req, 400, "bad query: a parameter is badly escaped, a topic is empty, or more than 64 topics")
		return
	}
	f, ok := chooseFormat(q.format, req.Header("Accept"))
	if !ok {
		ls.answerError(l, h, req, 400, "format must be ndjson, sse, multipart or poll")
		return
	}
	if len(q.user) > 0 && !validName(q.user) {
		ls.answerError(l, h, req, 400, "user must be 1-256 printable bytes without spaces")
		return
	}
	for _, t := range q.topics {
		if !validName(t) {
			ls.answerError(l, h, req, 400, "topic must be 1-256 printable bytes without spaces")
			return
		}
	}
	since, hasSince, err := parseSince(q.since, req.Header("Last-Event-ID"))
	if err != nil {
		ls.answerError(l, h, req, 400, "since and Last-Event-ID must be a message id (a decimal number)")
		return
	}
	ls.register(c, q)
	if f == formatPoll {
		ls.poll(l, h, c, req, since, hasSince)
		return
	}
	c.format = f
	c.minor = uint8(req.Minor())
	c.mode = modeStream
	ls.s.counters.subscribes.Add(1)

	dst := appendResponseHead(ls.out[:0], 200, c.minor == 1)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = httpcodec.AppendHeader(dst, "X-Accel-Buffering", "no")
	var key [keyTextLen]byte
	keyText := appendKeyText(key[:0], c.key)
	dst = httpcodec.AppendHeaderBytes(dst, "Push-Conn", keyText)
	dst = ls.s.appendCORS(dst, ls.s.originIndex(req.Header("Origin")))
	dst = httpcodec.AppendHeader(dst, "Access-Control-Expose-Headers", "Push-Conn")
	ls.frame = f.contentType(ls.frame[:0], ls.s.boundary)
	dst = httpcodec.AppendHeaderBytes(dst, "Content-Type", ls.frame)
	if c.minor == 1 {
		dst = httpcodec.AppendHeader(dst, "Transfer-Encoding", "chunked")
	}
	ls.out = append(dst, "\r\n"...)
	l.Write(h, ls.out)

	nowMs := l.Now().UnixMilli()
	var packet [128]byte
	p := appendRegisteredPacket(packet[:0], nowMs, keyText)
	retry := ls.s.cfg.Retry.Milliseconds()
	ls.writeFrame(l, h, c, func(dst []byte) []byte {
		if f == formatSSE {
			dst = httpcodec.AppendSSERetry(dst, retry)
		}
		return appendPacketFrame(dst, f, eventRegistered, p, ls.s.boundary)
	})
	ls.replay(l, h, c, &ls.subs[c.sub-1], since, hasSince)
	ls.setTimer(c, timerHeartbeat, l.Now().Add(ls.s.cfg.Heartbeat))
}

// parseSince reads the resume point from ?since= or Last-Event-ID.
func parseSince(param, header []byte) (since uint64, ok bool, err error) {
	v := param
	if len(v) == 0 {
		v = header
	}
	if len(v) == 0 {
		return 0, false, nil
	}
	since, err = strconv.ParseUint(string(v), 10, 64)
	return since, err == nil, err
}

// register gives c a conn key and a subscription and enters it in the table.
func (ls *loopState) register(c *connState, q *queryParams) {
	var i int32
	if n := len(ls.freeSubs); n > 0 {
		i = ls.freeSubs[n-1]
		ls.freeSubs = ls.freeSubs[:n-1]
	} else {
		ls.subs = append(ls.subs, subscription{})
		i = int32(len(ls.subs))
	}
	c.sub = i
	sub := &ls.subs[i-1]
	for {
		ls.rng.Read(c.key[:])
		if ls.s.table.AddConn(c.key, conntable.Handle(c.h)) {
			break
		}
	}
	sub.user = string(q.user)
	sub.topics = sub.topics[:0]
	sub.members = sub.members[:0]
	if len(q.user) > 0 {
		sub.members = append(sub.members, ls.s.table.Join(conntable.Users, q.user, conntable.Handle(c.h)))
	}
	for _, t := range q.topics {
		if slices.Contains(sub.topics, string(t)) {
			continue
		}
		sub.topics = append(sub.topics, string(t))
		sub.members = append(sub.members, ls.s.table.Join(conntable.Topics, t, conntable.Handle(c.h)))
	}
	sub.replayed, sub.since = 0, 0
}

// unsubscribe takes c out of the table and frees its subscription.
func (ls *loopState) unsubscribe(c *connState) {
	sub := &ls.subs[c.sub-1]
	for _, m := range sub.members {
		ls.s.table.Leave(m)
	}
	ls.s.table.RemoveConn(c.key)
	sub.user = ""
	clear(sub.topics)
	sub.topics, sub.members = sub.topics[:0], sub.members[:0]
	ls.freeSubs = append(ls.freeSubs, c.sub)
	c.sub = 0
	c.key = conntable.Key{}
}

// replay writes, before anything live, the unacknowledged QoS 1 messages of
// the user and, when the client resumes from an id, the topic history after it.
func (ls *loopState) replay(l *engine.Loop, h engine.Handle, c *connState, sub *subscription, since uint64, hasSince bool) {
	nowMs := l.Now().UnixMilli()
	msgs := ls.pending[:0]
	if sub.user != "" {
		if hasSince {
			ls.s.store.ack(sub.user, since)
		}
		msgs = ls.s.store.appendPending(msgs, sub.user, nowMs)
	}
	if hasSince {
		for _, t := range sub.topics {
			msgs = ls.s.recent.appendSince(msgs, conntable.Topics, t, since)
		}
	}
	slices.SortFunc(msgs, func(a, b *message) int { return cmpSeq(a.seq, b.seq) })
	var last uint64
	for _, m := range msgs {
		if m.seq != last { // one message may be both stored and in history
			ls.writeMessage(l, h, c, m)
			last = m.seq
		}
		l.Defer(m)
	}
	sub.replayed = last
	clear(msgs)
	ls.pending = msgs[:0]
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
