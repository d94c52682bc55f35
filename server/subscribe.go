package server

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// subscription is a subscribe request once read: what starting it needs,
// apart from the request, so that it can also start after an auth callback
// answered, when the request's bytes are gone.
type subscription struct {
	q         *queryParams // user and topics; with auth, the user auth gave
	format    push.Format
	minor     uint8   // HTTP/1.minor of the request
	keepAlive bool    // the request keeps its connection (long-polls)
	persist   persist // how an error answer ends the connection
	origin    uint8   // see originIndex
	since     uint64
	hasSince  bool
	head      bool // a HEAD request: answer the head, start nothing
	last      int  // ?last=N: replay the newest N of each topic's history (gap.go)
}

// subscribe reads a subscribe request (SPEC §3) and starts it, or with auth
// configured (SPEC §6) has it allowed first.
func (ls *loopState) subscribe(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request) {
	ls.query = parseQuery(&ls.q, req.Query(), ls.query[:0])
	q := &ls.q
	if q.bad {
		ls.answerError(l, h, req, 400, "bad query: a parameter is badly escaped, a topic is empty, or more than 64 topics")
		return
	}
	f, ok := push.ChooseFormat(q.format, req.Header("Accept"))
	if !ok {
		ls.answerError(l, h, req, 400, "format must be ndjson, sse, multipart or poll")
		return
	}
	if len(q.user) > 0 && !push.ValidName(q.user) {
		ls.answerError(l, h, req, 400, "user must be 1-256 printable bytes without spaces")
		return
	}
	for _, t := range q.topics {
		if !push.ValidName(t) {
			ls.answerError(l, h, req, 400, "topic must be 1-256 printable bytes without spaces")
			return
		}
	}
	since, hasSince, err := parseSince(q.since, req.Header("Last-Event-ID"))
	if err != nil {
		ls.answerError(l, h, req, 400, "since and Last-Event-ID must be a message id (a decimal number)")
		return
	}
	last, ok := parseLast(q.last)
	if !ok {
		ls.answerError(l, h, req, 400, "last must be a whole number of messages")
		return
	}
	sub := subscription{q: q, format: f, minor: uint8(req.Minor()), keepAlive: req.KeepAlive(),
		persist: persistence(req), origin: ls.s.originIndex(req.Header("Origin")), since: since, hasSince: hasSince, head: isHead(req), last: last}
	if ls.s.auth != nil {
		ls.authorize(l, h, c, req, &sub)
		return
	}
	ls.start(l, h, c, &sub)
}

// start enters an allowed subscription in the table and starts its stream
// or long-poll.
func (ls *loopState) start(l *engine.Loop, h engine.Handle, c *connState, sub *subscription) {
	if sub.head {
		ls.answerSubscribeHead(l, h, c, sub)
		return
	}
	q, f := sub.q, sub.format
	if f == push.Poll {
		ls.pollInterest(q, l.Now())
	}
	ls.register(c, q)
	if f == push.Poll {
		ls.poll(l, h, c, sub)
		return
	}
	c.format = f
	c.minor = sub.minor
	c.mode = modeStream
	ls.s.counters.subscribes.Add(1)

	keep := persist11
	if c.minor == 0 { // a close-delimited stream
		keep = persistClose
	}
	var key [keyTextLen + 65]byte
	keyText := ls.s.appendKeyText(key[:0], connKey{c.h, ls.keys.Random(c.h.Slot())})
	ls.out = ls.appendStreamHead(ls.out[:0], sub, keep, keyText)
	l.Write(h, ls.out)
	if ls.s.hooks != nil {
		ls.s.hooks.Connect(keyText, q.user, ls.s.nodeID, l.Now())
	}

	nowMs := l.Now().UnixMilli()
	retry := ls.s.cfg.Retry.Milliseconds()
	ls.writeFrame(l, h, c, func(dst []byte) []byte {
		return push.AppendRegisteredFrame(dst, f, nowMs, keyText, retry, ls.s.boundary)
	})
	ls.replay(l, h, c, q, sub)
	if len(q.user) > 0 && ls.s.store.fetch(h, q.user, sub.since, sub.hasSince) {
		ls.held[h] = nil // live messages wait for the replay (holdLive)
	}
}

// appendStreamHead appends the head of a stream answer; keyText is left out
// when empty (HEAD: no stream, so no key).
func (ls *loopState) appendStreamHead(dst []byte, sub *subscription, p persist, keyText []byte) []byte {
	dst = appendResponseHead(dst, 200, p)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = httpcodec.AppendHeader(dst, "X-Accel-Buffering", "no")
	if len(keyText) > 0 {
		dst = httpcodec.AppendHeaderBytes(dst, "Push-Conn", keyText)
	}
	dst = ls.s.appendCORS(dst, sub.origin)
	dst = httpcodec.AppendHeader(dst, "Access-Control-Expose-Headers", "Push-Conn")
	ls.frame = sub.format.AppendContentType(ls.frame[:0], ls.s.boundary)
	dst = httpcodec.AppendHeaderBytes(dst, "Content-Type", ls.frame)
	if sub.minor == 1 {
		dst = httpcodec.AppendHeader(dst, "Transfer-Encoding", "chunked")
	}
	return append(dst, "\r\n"...)
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

// register gives c a conn key and enters it and its memberships in the table.
func (ls *loopState) register(c *connState, q *queryParams) {
	ls.keys.Set(c.h.Slot(), conntable.Handle(c.h), [2]uint64{ls.rng.Uint64(), ls.rng.Uint64()})
	ls.subscribers.Add(1)
	c.subscribed, c.hasUser, c.cursor = true, false, 0
	if len(q.user) > 0 {
		ls.join(c, conntable.Users, q.user)
		c.hasUser = true
	}
	for i, t := range q.topics {
		if slices.ContainsFunc(q.topics[:i], func(prev []byte) bool { return string(prev) == string(t) }) {
			continue
		}
		ls.join(c, conntable.Topics, t)
	}
}

// join enters c in a user or topic; the first connection of a name on this
// node registers the name in the directory.
func (ls *loopState) join(c *connState, g conntable.Group, name []byte) {
	m, first := ls.s.table.JoinFirst(g, name, conntable.Handle(c.h))
	ls.addMember(c, m)
	if first {
		ls.s.cluster.joined(g, name)
	}
}

// addMember keeps a membership token: inline while there is room, then in a
// side list.
func (ls *loopState) addMember(c *connState, m conntable.Membership) {
	for i := range c.member {
		if c.member[i] == 0 {
			c.member[i] = m
			return
		}
	}
	if c.more == 0 {
		if n := len(ls.freeMore); n > 0 {
			c.more = ls.freeMore[n-1]
			ls.freeMore = ls.freeMore[:n-1]
		} else {
			ls.more = append(ls.more, nil)
			c.more = int32(len(ls.more))
		}
	}
	ls.more[c.more-1] = append(ls.more[c.more-1], m)
}

// memberships returns c's tokens in a slice valid until the next call.
func (ls *loopState) memberships(c *connState) []conntable.Membership {
	ms := ls.memberScratch[:0]
	for _, m := range c.member {
		if m != 0 {
			ms = append(ms, m)
		}
	}
	if c.more != 0 {
		ms = append(ms, ls.more[c.more-1]...)
	}
	ls.memberScratch = ms
	return ms
}

// userName returns c's user, read back from the table into ls.names; nil
// when c has none. Valid until the next userName or topicNames call.
func (ls *loopState) userName(c *connState) []byte {
	if !c.hasUser {
		return nil
	}
	name, _, _ := ls.s.table.AppendName(ls.names[:0], c.member[0])
	ls.names = name
	return name
}

// unsubscribe takes c out of the table.
func (ls *loopState) unsubscribe(l *engine.Loop, c *connState) {
	if ls.s.hooks != nil && c.format != push.Poll { // streams only: start told the hook
		var key [keyTextLen + 65]byte
		keyText := ls.s.appendKeyText(key[:0], connKey{c.h, ls.keys.Random(c.h.Slot())})
		ls.s.hooks.Disconnect(keyText, ls.userName(c), ls.s.nodeID, l.Now())
	}
	for _, m := range ls.memberships(c) {
		name, g, last := ls.s.table.LeaveLast(ls.names[:0], m)
		ls.names = name
		if last {
			ls.s.cluster.left(g, name)
		}
	}
	if c.more != 0 {
		ls.more[c.more-1] = ls.more[c.more-1][:0]
		ls.freeMore = append(ls.freeMore, c.more)
		c.more = 0
	}
	ls.keys.Clear(c.h.Slot())
	ls.subscribers.Add(-1)
	c.member = [2]conntable.Membership{}
	c.subscribed, c.hasUser = false, false
}

// replay writes, before anything live, the unacknowledged QoS 1 messages of
// the user and, when the client resumes from an id, the topic history after it
// (after a gap frame when some of it is gone), or with ?last=N the newest N.
func (ls *loopState) replay(l *engine.Loop, h engine.Handle, c *connState, q *queryParams, sub *subscription) {
	since, hasSince := sub.since, sub.hasSince
	nowMs := l.Now().UnixMilli()
	msgs := ls.pending[:0]
	var sent []sentEntry
	if len(q.user) > 0 {
		if hasSince { // what this node sent the user up to since (sentlog.go)
			ls.s.store.resume(q.user, since, nowMs)
		}
		msgs = ls.s.store.appendNow(msgs, q.user, nowMs)
		if len(msgs) > 0 {
			sent = ls.s.sent.appendEntries(ls.sentScratch[:0], q.user)
		}
	}
	if hasSince {
		ls.writeGapIfMissed(l, h, c, q.topics, since, nowMs)
		for _, t := range q.topics {
			msgs = ls.s.recent.AppendSince(msgs, conntable.Topics, t, since)
		}
	} else if sub.last > 0 {
		msgs = ls.s.appendLast(msgs, q.topics, sub.last)
	}
	slices.SortFunc(msgs, func(a, b *message) int { return cmp.Compare(a.Seq, b.Seq) })
	var last uint64
	for _, m := range msgs {
		if m.Seq != last { // one message may be both stored and in history
			_, toAny := sentTo(sent, h, m.Seq)
			ls.writeStored(l, h, c, m, m.QoS == 1 && resent(toAny, hasSince, since, m.Seq))
			last = m.Seq
		}
		l.Defer(m)
	}
	clear(sent)
	ls.sentScratch = sent[:0]
	c.cursor = last
	clear(msgs)
	ls.pending = msgs[:0]
}
