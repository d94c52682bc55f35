package server

import (
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
)

// publishOne answers POST /pub/<kind>/<name>.
func (ls *loopState) publishOne(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	var p publish.Request
	var reason string
	if ls.query, reason = publish.ParsePath(&p, req.Path(), ls.query); reason != "" {
		ls.answerError(l, h, req, 400, reason)
		return
	}
	if reason := publish.ParseHeaders(&p, req, ls.s.cfg.DefaultTTL); reason != "" {
		ls.answerError(l, h, req, 400, reason)
		return
	}
	p.Data = req.Body()
	if len(p.Data) > ls.s.cfg.MaxMessageBytes {
		ls.answerError(l, h, req, 413, "body larger than --max-message-bytes")
		return
	}
	p.CType = req.Header("Content-Type")
	p.JSON = push.Embeddable(p.CType, p.Data)
	ls.resultIndex = 0
	var res publish.Result
	switch key := req.Header("Idempotency-Key"); {
	case key == nil:
		res = ls.publish(l, &p)
	case !publish.ValidKey(key):
		ls.answerError(l, h, req, 400, publish.BadKey)
		return
	case ls.s.cluster.alone():
		res = ls.publishKeyedNow(l, &p, key)
	default:
		ls.deferSingle(l, h, req, &p, key)
		return
	}
	ls.flushFanOut()
	if ls.job != nil {
		ls.dispatch(l, h, httpcodec.Persistence(req), res)
		return
	}
	ls.frame = publish.AppendResult(ls.frame[:0], &res, false)
	ls.out = httpcodec.AppendJSONResponse(ls.out[:0], res.Status, httpcodec.Persistence(req), ls.frame)
	ls.reply(l, h, ls.out)
}

// dispatch hands the request's routing job, with the results so far, to the
// router. A keep-alive connection that is reading requests goes on reading
// them, the answer queued in order (pipeline.go); otherwise (a keyed
// request, Connection: close, a draining node) the connection waits, its
// later requests carried, until the answer comes back.
func (ls *loopState) dispatch(l *engine.Loop, h engine.Handle, keepAlive httpcodec.Persist, results ...publish.Result) {
	job := ls.job
	ls.job = nil
	job.from, job.keepAlive = h, keepAlive
	job.results = append(job.results[:0], results...)
	c := ls.live(h)
	// Answers queued before this one: it must queue behind them, even if a
	// drain began since serve read the request (a drain is read again here).
	if ls.pipeOf(h) != nil || c.mode == modeRequest && keepAlive.Keep() && !ls.s.draining.Load() {
		ls.dispatchPiped(l, h, job)
		return
	}
	c.mode = modeAsync
	if !ls.s.cluster.submit(func() { ls.s.cluster.run(job) }) {
		ls.s.refuseRouted(job) // the router is saturated: 503 rather than block the loop
	}
}

// publish routes one push: to this node's subscribers at once
// (route.Resolver.Fan through the loop's fanOut), stored when its QoS or the
// topic history asks for that; deliveries to other loops wait in ls.batches
// for flushFanOut. In a cluster, a push other nodes may have to
// take becomes an item of ls.job and gets status 0: the router decides it.
func (ls *loopState) publish(l *engine.Loop, p *publish.Request) publish.Result {
	s := ls.s
	now := l.Now()
	var key push.ConnKey
	var node []byte
	if p.Kind == push.Conn {
		var ok bool
		if key, node, ok = push.ParseConnKey(p.Name); !ok {
			return publish.Result{Status: 400, Err: "conn key must be the key from the Push-Conn header"}
		}
		if node == nil {
			node = []byte(s.nodeID)
		}
	}
	m := newMessage(s.ids.Next(now), now.UnixMilli())
	defer m.Release()
	m.born = now
	ls.to = push.AppendAddress(ls.to[:0], p.Kind, p.Name)
	m.setPublished(ls.to, p.Event, p.CType, p.Data, p.JSON, p.QoS)
	m.Expiry = now.Add(p.TTL).UnixMilli()
	s.counters.messagesIn.Add(1)
	if s.debug {
		s.log.Debug("hop: published", "trace", m.Seq, "to", string(ls.to), "bytes", len(p.Data))
	}
	res := publish.Result{Status: 200, ID: m.Seq}

	remote := !s.cluster.alone()
	var routeStore bool // the routing job stores it (in Redis) before it forwards
	if p.Kind == push.User && p.QoS == 1 {
		var err error
		if res.Stored, routeStore, err = s.store.keep(p.Name, m, now.UnixMilli()); err != nil {
			return publish.Result{Status: 503, Err: err.Error()}
		}
	}
	if p.Kind != push.Conn || string(node) == s.nodeID {
		ls.fan = loopFan{ls, l}
		var kept bool
		ls.targets, res.Delivered, kept = s.resolver.Fan(&ls.fan, ls.targets[:0], p.Kind, p.Name, key, m)
		switch p.Kind {
		case push.Conn:
			remote = false
		case push.User:
			res.Stored = res.Stored || kept // kept for the user's long-poll client, between its polls
		case push.Topic:
			res.Stored = s.cfg.TopicHistory > 0
		}
	}
	s.metrics.ObserveFanOut(res.Delivered)
	if res.Delivered > 0 {
		res.Nodes = 1
	}
	if remote {
		res.Status = 0
		m.retain(1) // the router's, released once forwarded
		ls.routeLater(route.Item[*message]{Kind: p.Kind, Node: string(node), Msg: m, Store: routeStore})
		return res
	}
	publish.FinishStatus(&res, p.Kind)
	return res
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

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }
