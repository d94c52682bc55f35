package publish

import (
	"time"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/route"
)

// PublishOne answers POST /pub/<kind>/<name>.
func (ls *Publishing) PublishOne(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	var p Request
	var reason string
	if ls.Query, reason = ParsePath(&p, req.Path(), ls.Query); reason != "" {
		ls.AnswerError(l, h, req, 400, reason)
		return
	}
	if reason := ParseHeaders(&p, req, ls.s.Cfg.DefaultTTL); reason != "" {
		ls.AnswerError(l, h, req, 400, reason)
		return
	}
	p.Data = req.Body()
	if len(p.Data) > ls.s.Cfg.MaxMessageBytes {
		ls.AnswerError(l, h, req, 413, "body larger than --max-message-bytes")
		return
	}
	p.CType = req.Header("Content-Type")
	p.JSON = push.Embeddable(p.CType, p.Data)
	ls.resultIndex = 0
	var res Result
	switch key := req.Header("Idempotency-Key"); {
	case key == nil:
		res = ls.publish(l, &p)
	case !ValidKey(key):
		ls.AnswerError(l, h, req, 400, BadKey)
		return
	case ls.s.PubGlue.Alone():
		res = ls.publishKeyedNow(l, &p, key)
	default:
		ls.deferSingle(l, h, req, &p, key)
		return
	}
	ls.FlushFanOut()
	if ls.job != nil {
		ls.dispatch(l, h, httpcodec.Persistence(req), res)
		return
	}
	ls.Frame = AppendResult(ls.Frame[:0], &res, false)
	ls.Out = httpcodec.AppendJSONResponse(ls.Out[:0], res.Status, httpcodec.Persistence(req), ls.Frame)
	ls.Reply(l, h, ls.Out)
}

// dispatch hands the request's routing job, with the results so far, to the
// router. A keep-alive connection that is reading requests goes on reading
// them, the answer queued in order (pipeline.go); otherwise (a keyed
// request, Connection: close, a draining node) the connection waits, its
// later requests carried, until the answer comes back.
func (ls *Publishing) dispatch(l *engine.Loop, h engine.Handle, keepAlive httpcodec.Persist, results ...Result) {
	job := ls.job
	ls.job = nil
	job.from, job.keepAlive = h, keepAlive
	job.results = append(job.results[:0], results...)
	c := ls.Live(h)
	// Answers queued before this one: it must queue behind them, even if a
	// drain began since serve read the request (a drain is read again here).
	if ls.PipeOf(h) != nil || c.Mode == edge.ModeRequest && keepAlive.Keep() && !ls.s.Draining.Load() {
		ls.dispatchPiped(l, h, job)
		return
	}
	c.Mode = edge.ModeAsync
	if !ls.s.Submit(func() { ls.s.run(job) }) {
		ls.s.refuseRouted(job) // the router is saturated: 503 rather than block the loop
	}
}

// publish routes one push: to this node's subscribers at once
// (route.Resolver.Fan through the loop's fanOut), stored when its QoS or the
// topic history asks for that; deliveries to other loops wait in ls.batches
// for flushFanOut. In a cluster, a push other nodes may have to
// take becomes an item of ls.job and gets status 0: the router decides it.
func (ls *Publishing) publish(l *engine.Loop, p *Request) Result {
	s := ls.s
	now := l.Now()
	var key push.ConnKey
	var node []byte
	if p.Kind == push.Conn {
		var ok bool
		if key, node, ok = push.ParseConnKey(p.Name); !ok {
			return Result{Status: 400, Err: "conn key must be the key from the Push-Conn header"}
		}
		if node == nil {
			node = []byte(s.ID)
		}
	}
	m := edge.NewMessage(s.IDs.Next(now), now.UnixMilli())
	defer m.Release()
	m.Born = now
	ls.To = push.AppendAddress(ls.To[:0], p.Kind, p.Name)
	m.SetPublished(ls.To, p.Event, p.CType, p.Data, p.JSON, p.QoS)
	m.Expiry = now.Add(p.TTL).UnixMilli()
	s.MessagesIn.Add(1)
	if s.Debug {
		s.Log.Debug("hop: published", "trace", m.Seq, "to", string(ls.To), "bytes", len(p.Data))
	}
	res := Result{Status: 200, ID: m.Seq}

	remote := !s.PubGlue.Alone()
	var routeStore bool // the routing job stores it (in Redis) before it forwards
	if p.Kind == push.User && p.QoS == 1 {
		var err error
		if res.Stored, routeStore, err = s.PubGlue.Keep(p.Name, m, now.UnixMilli()); err != nil {
			return Result{Status: 503, Err: err.Error()}
		}
	}
	if p.Kind != push.Conn || string(node) == s.ID {
		var kept bool
		ls.Targets, res.Delivered, kept = s.Resolver.Fan(ls.FanOn(l), ls.Targets[:0], p.Kind, p.Name, key, m)
		switch p.Kind {
		case push.Conn:
			remote = false
		case push.User:
			res.Stored = res.Stored || kept // kept for the user's long-poll client, between its polls
		case push.Topic:
			res.Stored = s.Cfg.TopicHistory > 0
		}
	}
	s.Metrics.ObserveFanOut(res.Delivered)
	if res.Delivered > 0 {
		res.Nodes = 1
	}
	if remote {
		res.Status = 0
		m.RetainN(1) // the router's, released once forwarded
		ls.routeLater(route.Item[*edge.Message]{Kind: p.Kind, Node: string(node), Msg: m, Store: routeStore})
		return res
	}
	FinishStatus(&res, p.Kind)
	return res
}

// routeLater adds a push to the job the router will finish for the request
// being served; the item's result is the next one the request produces.
func (ls *Publishing) routeLater(it route.Item[*edge.Message]) {
	if ls.job == nil {
		ls.job = &RouteJob{}
	}
	it.Tag = ls.resultIndex
	ls.job.items = append(ls.job.items, it)
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }
