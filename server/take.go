package server

import (
	"sync"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/links"
)

// takeFromPeer is the link server's handler: a push forwarded by another node,
// delivered to this node's subscribers only (route.Router.Take). It runs on
// the link's goroutine, so every delivery is handed to its loop (peerFan).
func (cn *clusterNode) takeFromPeer(p *links.Push) links.Result {
	s := cn.s
	if !s.admitTake() { // handoff.go: no push may reach a connection being handed over
		return links.Result{Err: errTakeUpgrading}
	}
	defer s.up.takes.Add(-1)
	cn.received.Add(1)
	res := cn.router.Take(p, (*peerFan)(s))
	if res.Err != "" {
		return res
	}
	s.metrics.ObserveFanOut(res.Delivered)
	if s.debug {
		s.log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", res.Delivered)
	}
	return res
}

// fromPeer is the message of a push taken from a peer, its payload already
// compacted by the node that took the publish.
func fromPeer(seq uint64, p *links.Push) *message {
	now := time.Now()
	m := newMessage(seq, now.UnixMilli())
	m.born = now
	m.setPayload(viewBytes(p.To), viewBytes(p.Event), viewBytes(p.ContentType), p.Data, p.JSON, p.QoS)
	return m
}

// peerFan is the route.Fanout of pushes taken from peers: off the loops, it
// gives every delivery to its loop's task queue.
type peerFan Server

var scratchPool = sync.Pool{New: func() any { return new(loopBatches) }}

// Deliver gives m to every target through its loop's task queue.
func (f *peerFan) Deliver(m *message, targets []conntable.Sub) int {
	s := (*Server)(f)
	b := scratchPool.Get().(*loopBatches)
	defer scratchPool.Put(b)
	if len(*b) < len(s.loops) {
		*b = make(loopBatches, len(s.loops))
	}
	for _, sub := range targets {
		(*b)[sub.Loop()] = append((*b)[sub.Loop()], engine.Task{H: engine.Handle(sub), Op: opDeliver, V: m})
	}
	m.retain(int32(len(targets))) // each task releases one after its loop's flush
	b.submit(s.eng)
	return len(targets)
}

// DeliverAll gives m to every subscriber of the node through the loops.
func (f *peerFan) DeliverAll(m *message) int {
	s := (*Server)(f)
	n := 0
	for i, ls := range s.loops {
		n += int(ls.subscribers.Load())
		m.retain(1)
		s.eng.Submit(i, engine.Task{Op: opDeliverAll, V: m})
	}
	return n
}
