package server

import (
	"bytes"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
)

// publishReq is one publish request, from a single POST or a batch line. Its byte
// slices are views into the request and live only while it is handled.
type publishReq struct {
	kind  push.Kind
	name  []byte
	event []byte
	ctype []byte
	data  []byte
	json  bool
	qos   uint8
	ttl   time.Duration
}

// pushResult is the answer of SPEC §4 for one push.
type pushResult struct {
	status    int
	id        uint64
	delivered int
	nodes     int
	stored    bool
	duplicate bool   // the answer of an earlier publish with the same Idempotency-Key
	raw       []byte // a duplicate's first answer, a JSON object, written as is
	err       string
	// Set by the router only (partial.go): the nodes that may hold the target
	// and were not reached, and why, when that is a failure.
	unreachable []string
	failure     string
}

// publishOne answers POST /pub/<kind>/<name>.
func (ls *loopState) publishOne(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	var p publishReq
	if reason := ls.parsePushPath(&p, req.Path()); reason != "" {
		ls.answerError(l, h, req, 400, reason)
		return
	}
	if reason := ls.parsePushHeaders(&p, req); reason != "" {
		ls.answerError(l, h, req, 400, reason)
		return
	}
	p.data = req.Body()
	if len(p.data) > ls.s.cfg.MaxMessageBytes {
		ls.answerError(l, h, req, 413, "body larger than --max-message-bytes")
		return
	}
	p.ctype = req.Header("Content-Type")
	p.json = push.Embeddable(p.ctype, p.data)
	ls.resultIndex = 0
	var res pushResult
	switch key := req.Header("Idempotency-Key"); {
	case key == nil:
		res = ls.publish(l, &p)
	case !validIdemKey(key):
		ls.answerError(l, h, req, 400, badIdemKey)
		return
	case ls.s.cluster.alone():
		res = ls.publishKeyedNow(l, &p, key)
	default:
		ls.deferSingle(l, h, req, &p, key)
		return
	}
	ls.flushFanOut()
	if ls.job != nil {
		ls.dispatch(l, h, persistence(req), res)
		return
	}
	ls.frame = appendPushResult(ls.frame[:0], &res, false)
	ls.out = appendJSONResponse(ls.out[:0], res.status, persistence(req), ls.frame)
	ls.reply(l, h, ls.out)
}

// dispatch hands the request's routing job, with the results so far, to the
// router. A keep-alive connection that is reading requests goes on reading
// them, the answer queued in order (pipeline.go); otherwise (a keyed
// request, Connection: close, a draining node) the connection waits, its
// later requests carried, until the answer comes back.
func (ls *loopState) dispatch(l *engine.Loop, h engine.Handle, keepAlive persist, results ...pushResult) {
	job := ls.job
	ls.job = nil
	job.from, job.keepAlive = h, keepAlive
	job.results = append(job.results[:0], results...)
	c := ls.live(h)
	if c.mode == modeRequest && keepAlive.keep() && !ls.s.draining.Load() {
		ls.dispatchPiped(l, h, job)
		return
	}
	c.mode = modeAsync
	if !ls.s.cluster.submit(func() { ls.s.cluster.run(job) }) {
		ls.s.refuseRouted(job) // the router is saturated: 503 rather than block the loop
	}
}

// parsePushPath reads /pub/<kind>/<name>; it returns why it cannot.
func (ls *loopState) parsePushPath(p *publishReq, path []byte) string {
	rest := path[len("/pub/"):]
	if string(rest) == "all" {
		p.kind = push.All
		return ""
	}
	kind, name, ok := bytes.Cut(rest, []byte("/"))
	if !ok || !p.setKind(kind) || p.kind == push.All {
		return "address must be /pub/conn/<key>, /pub/user/<id>, /pub/topic/<name> or /pub/all"
	}
	var err error
	ls.query, err = httpcodec.AppendUnescape(ls.query[:0], name)
	if err != nil || !push.ValidName(ls.query) {
		return "the address name must be 1-256 printable bytes, percent-escaped in the path"
	}
	p.name = ls.query
	return ""
}

func (p *publishReq) setKind(kind []byte) bool {
	k, ok := push.ParseKind(kind)
	p.kind = k
	return ok
}

// parsePushHeaders reads Push-Event, Push-QoS and Push-TTL.
func (ls *loopState) parsePushHeaders(p *publishReq, req *httpcodec.Request) string {
	p.event = req.Header("Push-Event")
	if len(p.event) > 0 && !push.ValidName(p.event) {
		return "Push-Event must be 1-256 printable bytes without spaces"
	}
	switch qos := req.Header("Push-QoS"); string(qos) {
	case "", "0":
	case "1":
		p.qos = 1
	default:
		return "Push-QoS must be 0 or 1"
	}
	p.ttl = ls.s.cfg.DefaultTTL
	if ttl := req.Header("Push-TTL"); len(ttl) > 0 {
		secs, err := strconv.ParseUint(string(ttl), 10, 32)
		if err != nil || secs == 0 {
			return "Push-TTL must be a whole number of seconds above 0"
		}
		p.ttl = time.Duration(secs) * time.Second
	}
	return ""
}

// publish routes one push: to this node's subscribers at once
// (route.Resolver.Fan through the loop's fanOut), stored when its QoS or the
// topic history asks for that; deliveries to other loops wait in ls.batches
// for flushFanOut. In a cluster, a push other nodes may have to
// take becomes an item of ls.job and gets status 0: the router decides it.
func (ls *loopState) publish(l *engine.Loop, p *publishReq) pushResult {
	s := ls.s
	now := l.Now()
	var key push.ConnKey
	var node []byte
	if p.kind == push.Conn {
		var ok bool
		if key, node, ok = push.ParseConnKey(p.name); !ok {
			return pushResult{status: 400, err: "conn key must be the key from the Push-Conn header"}
		}
		if node == nil {
			node = []byte(s.nodeID)
		}
	}
	m := newMessage(s.ids.Next(now), now.UnixMilli())
	defer m.Release()
	m.born = now
	ls.to = push.AppendAddress(ls.to[:0], p.kind, p.name)
	m.setPublished(ls.to, p.event, p.ctype, p.data, p.json, p.qos)
	m.Expiry = now.Add(p.ttl).UnixMilli()
	s.counters.messagesIn.Add(1)
	if s.debug {
		s.log.Debug("hop: published", "trace", m.Seq, "to", string(ls.to), "bytes", len(p.data))
	}
	res := pushResult{status: 200, id: m.Seq}

	remote := !s.cluster.alone()
	var routeStore bool // the routing job stores it (in Redis) before it forwards
	if p.kind == push.User && p.qos == 1 {
		var err error
		if res.stored, routeStore, err = s.store.keep(p.name, m, now.UnixMilli()); err != nil {
			return pushResult{status: 503, err: err.Error()}
		}
	}
	if p.kind != push.Conn || string(node) == s.nodeID {
		ls.fan = loopFan{ls, l}
		var kept bool
		ls.targets, res.delivered, kept = s.resolver.Fan(&ls.fan, ls.targets[:0], p.kind, p.name, key, m)
		switch p.kind {
		case push.Conn:
			remote = false
		case push.User:
			res.stored = res.stored || kept // kept for the user's long-poll client, between its polls
		case push.Topic:
			res.stored = s.cfg.TopicHistory > 0
		}
	}
	s.metrics.observeFanOut(res.delivered)
	if res.delivered > 0 {
		res.nodes = 1
	}
	if remote {
		res.status = 0
		m.retain(1) // the router's, released once forwarded
		ls.routeLater(route.Item[*message]{Kind: p.kind, Node: string(node), Msg: m, Store: routeStore})
		return res
	}
	finishStatus(&res, p.kind)
	return res
}

// finishStatus applies SPEC §4 to a push's counts: 202 when a QoS 1 message
// waits for an offline user, 404 when a conn or user has no live connection.
func finishStatus(res *pushResult, kind push.Kind) {
	switch {
	case res.status != 200:
	case res.delivered == 0 && res.stored && kind == push.User:
		res.status = 202
	case res.delivered == 0 && (kind == push.Conn || kind == push.User):
		res.status, res.err = 404, "no live connection"
	}
}

// routeLater adds a push to the job the router will finish for the request
// being served; the item's result is the next one the request produces.
func (ls *loopState) routeLater(it route.Item[*message]) {
	if ls.job == nil {
		ls.job = &routeJob{}
	}
	it.Tag = ls.resultIndex
	ls.job.items = append(ls.job.items, it)
}

// appendPushResult appends the JSON answer of SPEC §4; withStatus adds the
// "status" field the batch answer carries.
func appendPushResult(dst []byte, r *pushResult, withStatus bool) []byte {
	if r.raw != nil {
		return appendRawResult(dst, r, withStatus)
	}
	dst = append(dst, '{')
	if withStatus {
		dst = append(dst, `"status":`...)
		dst = strconv.AppendInt(dst, int64(r.status), 10)
		dst = append(dst, ',')
	}
	if r.err != "" {
		dst = append(dst, `"error":`...)
		dst = httpcodec.AppendJSONString(dst, []byte(r.err))
		return appendResultTail(dst, r)
	}
	dst = append(dst, `"id":"`...)
	dst = strconv.AppendUint(dst, r.id, 10)
	dst = append(dst, `","delivered":`...)
	dst = strconv.AppendInt(dst, int64(r.delivered), 10)
	dst = append(dst, `,"nodes":`...)
	dst = strconv.AppendInt(dst, int64(r.nodes), 10)
	dst = append(dst, `,"stored":`...)
	dst = strconv.AppendBool(dst, r.stored)
	return appendResultTail(dst, r)
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }
