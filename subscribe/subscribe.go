package subscribe

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// Subscription is a subscribe request once read: what starting it needs,
// apart from the request, so that it can also start after an auth callback
// answered, when the request's bytes are gone.
type Subscription struct {
	Q         *edge.QueryParams // user and topics; with auth, the user auth gave
	Format    push.Format
	Minor     uint8             // HTTP/1.minor of the request
	KeepAlive bool              // the request keeps its connection (long-polls)
	Persist   httpcodec.Persist // how an error answer ends the connection
	origin    uint8             // see originIndex
	since     uint64
	hasSince  bool
	Head      bool           // a HEAD request: answer the head, start nothing
	id        *auth.Identity // what auth allowed (allowsets.go); nil without auth
	Gated     bool           // the per-user connection policy admitted it (userpolicy/admission.go)
	Stream    conntable.Sub  // an HTTP/2 stream's subscribe: its record, waiting (h2edge/requests.go); 0 on HTTP/1.x
	last      int            // ?last=N: replay the newest N of each topic's history (gap.go)
	expires   int64          // unix ms when auth's permission ends (lifetime.go); 0 = never
}

// Subscribe reads a subscribe request (SPEC §3) and starts it, or with auth
// configured (SPEC §6) has it allowed first.
func (ls *SubLoop) Subscribe(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request) {
	sub := &ls.Reading
	var reason string
	*sub, reason = ls.ReadSubscribe(req.Query(), req.Header("Accept"), req.Header("Last-Event-ID"), req.Header("Origin"))
	if reason != "" {
		ls.AnswerError(l, h, req, 400, reason)
		return
	}
	sub.Minor, sub.KeepAlive, sub.Persist, sub.Head = uint8(req.Minor()), req.KeepAlive(), httpcodec.Persistence(req), edge.IsHead(req)
	if ls.s.Auth != nil {
		ls.Authorize(l, h, c, req, sub)
		return
	}
	ls.Start(l, h, c, sub)
}

// ReadSubscribe reads a subscribe request's query and headers into a
// subscription (its transport fields left to the caller), or says why it is
// a 400. Both HTTP/1.x and HTTP/2 subscribes are read here.
func (ls *SubLoop) ReadSubscribe(query, accept, lastEventID, origin []byte) (Subscription, string) {
	ls.Query = edge.ParseQuery(&ls.Q, query, ls.Query[:0])
	q := &ls.Q
	if q.Bad {
		return Subscription{}, "bad query: a parameter is badly escaped, a topic is empty, or more than 64 topics"
	}
	f, ok := push.ChooseFormat(q.Format, accept)
	if !ok {
		return Subscription{}, "format must be ndjson, sse, multipart or poll"
	}
	if len(q.User) > 0 && !push.ValidName(q.User) {
		return Subscription{}, "user must be 1-256 printable bytes without spaces"
	}
	for _, t := range q.Topics {
		if !push.ValidName(t) {
			return Subscription{}, "topic must be 1-256 printable bytes without spaces"
		}
	}
	since, hasSince, err := parseSince(q.Since, lastEventID)
	if err != nil {
		return Subscription{}, "since and Last-Event-ID must be a message id (a decimal number)"
	}
	last, ok := parseLast(q.Last)
	if !ok {
		return Subscription{}, "last must be a whole number of messages"
	}
	return Subscription{Q: q, Format: f, origin: ls.s.OriginIndex(origin), since: since, hasSince: hasSince, last: last}, ""
}

// Start enters an allowed subscription in the table and starts its stream
// or long-poll on an HTTP/1.x connection, whose one subscriber c carries.
func (ls *SubLoop) Start(l *engine.Loop, h engine.Handle, c *edge.ConnState, sub *Subscription) {
	if sub.Stream != 0 {
		ls.s.SubGlue.H2Start(l, sub)
		return
	}
	if ls.s.SubGlue.GateUser(l, h, c, sub) { // userpolicy/admission.go
		return
	}
	defer func() { ls.PresetKey = [2]uint64{} }()
	if sub.Head {
		ls.answerSubscribeHead(l, h, c, sub)
		return
	}
	q, f := sub.Q, sub.Format
	cs := conntable.ConnSub(conntable.Handle(h))
	if f == push.Poll {
		ls.PollInterest(q, l.Now())
		ls.Register(cs, &c.SubState, q)
		ls.Poll(l, cs, &c.SubState, sub)
		return
	}
	ls.Register(cs, &c.SubState, q)
	c.Minor = sub.Minor
	keep := httpcodec.Persist11
	if c.Minor == edge.FramingRaw { // a close-delimited stream
		keep = httpcodec.PersistClose
	}
	var key [edge.KeyTextLen + 65]byte
	keyText := ls.s.AppendKeyText(key[:0], ls.KeyOf(cs))
	ls.Out = ls.AppendStreamHead(ls.Out[:0], sub, keep, keyText)
	l.Write(h, ls.Out)
	ls.StartStream(l, cs, &c.SubState, h, sub, keyText)
}

// StartStream starts the stream of subscriber sub, registered, once its
// transport wrote the answer's head: the registered frame, then what it
// must be replayed, before anything live.
func (ls *SubLoop) StartStream(l *engine.Loop, sub conntable.Sub, s *edge.SubState, conn engine.Handle, sn *Subscription, keyText []byte) {
	q, f := sn.Q, sn.Format
	s.Format = f
	s.Mode = edge.ModeStream
	ls.keepAllowed(sub, sn.id)
	ls.s.Subscribes.Add(1)
	if ls.s.Hooks != nil {
		ls.s.Hooks.Connect(keyText, q.User, ls.s.ID, l.Now())
	}
	nowMs := l.Now().UnixMilli()
	retry := ls.s.Cfg.Retry.Milliseconds()
	ls.FrameTo(l, sub, s, conn, func(dst []byte) []byte {
		return push.AppendRegisteredFrame(dst, f, nowMs, keyText, retry, ls.s.Boundary)
	})
	gapped := ls.replay(l, sub, s, conn, q, sn)
	ls.startLife(l, sub, s, conn, sn)
	// The QoS 1 paths (store/sentlog.go, store) key streams by engine.Handle: a
	// Sub has its layout, and for an HTTP/1.x subscriber it is the
	// connection's handle.
	if h := engine.Handle(sub); len(q.User) > 0 && ls.s.SubGlue.Fetch(h, q.User, sn.since, sn.hasSince, gapped) {
		ls.Held[h] = nil // live messages wait for the replay (holdLive)
	}
}

// AppendStreamHead appends the head of a stream answer; keyText is left out
// when empty (HEAD: no stream, so no key).
func (ls *SubLoop) AppendStreamHead(dst []byte, sub *Subscription, p httpcodec.Persist, keyText []byte) []byte {
	dst = httpcodec.AppendResponseHead(dst, 200, p)
	dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
	dst = httpcodec.AppendHeader(dst, "X-Accel-Buffering", "no")
	if len(keyText) > 0 {
		dst = httpcodec.AppendHeaderBytes(dst, "Push-Conn", keyText)
	}
	dst = ls.s.AppendCORS(dst, sub.origin)
	dst = httpcodec.AppendHeader(dst, "Access-Control-Expose-Headers", "Push-Conn")
	ls.Frame = sub.Format.AppendContentType(ls.Frame[:0], ls.s.Boundary)
	dst = httpcodec.AppendHeaderBytes(dst, "Content-Type", ls.Frame)
	if sub.Minor == 1 {
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

// Register gives subscriber sub a conn key and enters it and its
// memberships in the table.
func (ls *SubLoop) Register(sub conntable.Sub, s *edge.SubState, q *edge.QueryParams) {
	keys, i := ls.KeysOf(sub)
	r := ls.PresetKey
	if r == ([2]uint64{}) {
		r = [2]uint64{ls.Rng.Uint64(), ls.Rng.Uint64()}
	}
	ls.PresetKey = [2]uint64{}
	keys.Set(i, sub, r)
	ls.Subscribers.Add(1)
	s.Subscribed, s.HasUser, s.Cursor = true, false, 0
	if len(q.User) > 0 {
		ls.Join(sub, s, conntable.Users, q.User)
		s.HasUser = true
	}
	for i, t := range q.Topics {
		if slices.ContainsFunc(q.Topics[:i], func(prev []byte) bool { return string(prev) == string(t) }) {
			continue
		}
		ls.Join(sub, s, conntable.Topics, t)
	}
}

// Join enters sub in a user or topic; the first subscriber of a name on this
// node registers the name in the directory.
func (ls *SubLoop) Join(sub conntable.Sub, s *edge.SubState, g conntable.Group, name []byte) {
	m, first := ls.s.Table.JoinFirst(g, name, sub)
	ls.AddMember(s, m)
	if first {
		ls.s.SubGlue.Joined(g, name)
	}
}

// AddMember keeps a membership token: inline while there is room, then in a
// side list.
func (ls *SubLoop) AddMember(s *edge.SubState, m conntable.Membership) {
	for i := range s.Member {
		if s.Member[i] == 0 {
			s.Member[i] = m
			return
		}
	}
	if s.More == 0 {
		if n := len(ls.FreeMore); n > 0 {
			s.More = ls.FreeMore[n-1]
			ls.FreeMore = ls.FreeMore[:n-1]
		} else {
			ls.More = append(ls.More, nil)
			s.More = int32(len(ls.More))
		}
	}
	ls.More[s.More-1] = append(ls.More[s.More-1], m)
}

// Memberships returns c's tokens (its connection's subscriber).
func (ls *SubLoop) Memberships(c *edge.ConnState) []conntable.Membership {
	return ls.SubMembers(&c.SubState)
}

// SubMembers returns s's tokens in a slice valid until the next call.
func (ls *SubLoop) SubMembers(s *edge.SubState) []conntable.Membership {
	ms := ls.MemberScratch[:0]
	for _, m := range s.Member {
		if m != 0 {
			ms = append(ms, m)
		}
	}
	if s.More != 0 {
		ms = append(ms, ls.More[s.More-1]...)
	}
	ls.MemberScratch = ms
	return ms
}

// userName returns the user of c's subscriber; see subUser.
func (ls *SubLoop) userName(c *edge.ConnState) []byte { return ls.SubUser(&c.SubState) }

// SubUser returns s's user, read back from the table into ls.names; nil
// when s has none. Valid until the next subUser or topicNames call.
func (ls *SubLoop) SubUser(s *edge.SubState) []byte {
	if !s.HasUser {
		return nil
	}
	name, _, _ := ls.s.Table.AppendName(ls.Names[:0], s.Member[0])
	ls.Names = name
	return name
}

// Unsubscribe takes c's subscriber out of the table.
func (ls *SubLoop) Unsubscribe(l *engine.Loop, c *edge.ConnState) {
	ls.leave(l, conntable.ConnSub(conntable.Handle(c.H)), &c.SubState)
}

// leave takes subscriber sub out of the table.
func (ls *SubLoop) leave(l *engine.Loop, sub conntable.Sub, s *edge.SubState) {
	ls.s.SubGlue.StreamLeft(sub, s)                 // userpolicy/admission.go
	if ls.s.Hooks != nil && s.Format != push.Poll { // streams only: start told the hook
		var key [edge.KeyTextLen + 65]byte
		keyText := ls.s.AppendKeyText(key[:0], ls.KeyOf(sub))
		ls.s.Hooks.Disconnect(keyText, ls.SubUser(s), ls.s.ID, l.Now())
	}
	for _, m := range ls.SubMembers(s) {
		name, g, last := ls.s.Table.LeaveLast(ls.Names[:0], m)
		ls.Names = name
		if last {
			ls.s.SubGlue.Left(g, name)
		}
	}
	if s.More != 0 {
		ls.More[s.More-1] = ls.More[s.More-1][:0]
		ls.FreeMore = append(ls.FreeMore, s.More)
		s.More = 0
	}
	keys, i := ls.KeysOf(sub)
	keys.Clear(i)
	ls.Subscribers.Add(-1)
	s.Member = [2]conntable.Membership{}
	s.Subscribed, s.HasUser = false, false
}

// replay writes, before anything live, the unacknowledged QoS 1 messages of
// the user and, when the client resumes from an id, the topic history after it.
// It reports whether it wrote the gap frame.
func (ls *SubLoop) replay(l *engine.Loop, sub conntable.Sub, c *edge.SubState, conn engine.Handle, q *edge.QueryParams, sn *Subscription) (gapped bool) {
	since, hasSince := sn.since, sn.hasSince
	h := engine.Handle(sub) // the QoS 1 paths' key: see startStream
	nowMs := l.Now().UnixMilli()
	msgs := ls.Pending[:0]
	var sent []store.SentEntry
	var lost uint64 // the user's lost mark (store/lost.go)
	if len(q.User) > 0 {
		if hasSince { // what this node sent the user up to since (store/sentlog.go)
			ls.s.SubGlue.Resume(q.User, since, nowMs)
		}
		msgs, lost = ls.s.SubGlue.AppendNow(msgs, q.User, nowMs)
		if len(msgs) > 0 {
			sent = ls.s.Sent.AppendEntries(ls.SentScratch[:0], q.User)
		}
	}
	if hasSince {
		gapped = ls.writeGapIfMissed(l, sub, c, conn, q.Topics, since, lost, nowMs)
		for _, t := range q.Topics {
			msgs = ls.s.Recent.AppendSince(msgs, conntable.Topics, t, since)
		}
	} else if sn.last > 0 {
		msgs = ls.s.appendLast(msgs, q.Topics, sn.last)
	}
	slices.SortFunc(msgs, func(a, b *edge.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	var last uint64
	for _, m := range msgs {
		if m.Seq != last { // one message may be both stored and in history
			_, toAny := store.SentTo(sent, conntable.Sub(h), m.Seq)
			ls.StoredTo(l, sub, c, conn, m, m.QoS == 1 && Resent(toAny, hasSince, since, m.Seq))
			last = m.Seq
		}
		l.Defer(m)
	}
	clear(sent)
	ls.SentScratch = sent[:0]
	c.Cursor = last
	clear(msgs)
	ls.Pending = msgs[:0]
	return gapped
}

// answerSubscribeHead answers HEAD /sub once it is allowed: the head its GET
// would get, and no stream. Nothing is registered, so the head has no
// Push-Conn (it would name a connection that does not exist); a long-poll's
// head has no Content-Length (its body is not known before messages come).
// The connection stays open as the head says: HTTP/1.0 streams are
// close-delimited, so their head says "Connection: close" and it closes.
func (ls *SubLoop) answerSubscribeHead(l *engine.Loop, h engine.Handle, c *edge.ConnState, sub *Subscription) {
	p := sub.Persist
	if sub.Format == push.Poll {
		dst := httpcodec.AppendResponseHead(ls.Out[:0], 200, p)
		dst = httpcodec.AppendHeader(dst, "Cache-Control", "no-cache")
		dst = ls.s.AppendCORS(dst, sub.origin)
		dst = httpcodec.AppendHeader(dst, "Content-Type", "application/json")
		ls.Out = append(dst, "\r\n"...)
	} else {
		if sub.Minor == 0 {
			p = httpcodec.PersistClose
		}
		ls.Out = ls.AppendStreamHead(ls.Out[:0], sub, p, nil)
	}
	l.Write(h, ls.Out)
	if !p.Keep() {
		c.Mode = edge.ModeClosing
		l.CloseAfterFlush(h)
	}
}

// Resent decides whether a replayed stored message is flagged as a resend:
// a client that resumes from a cursor says what it has, so only ids up to it
// are; otherwise those this node already sent to a connection of the user.
func Resent(sentToUser, hasSince bool, since, id uint64) bool {
	if hasSince {
		return id <= since
	}
	return sentToUser
}
