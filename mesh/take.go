package mesh

import (
	"sync"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/publish"
)

// takeFromPeer is the link server's handler: a push forwarded by another node,
// delivered to this node's subscribers only (route.Router.Take). It runs on
// the link's goroutine, so every delivery is handed to its loop (peerFan).
func (cn *clusterNode) takeFromPeer(p *links.Push) links.Result {
	s := cn.s
	if refusal := s.MeshGlue.AdmitTake(); refusal != "" { // upgrade/handoff.go: no push may reach a connection being handed over
		return links.Result{Err: refusal}
	}
	defer s.MeshGlue.TakeDone()
	cn.Received.Add(1)
	res := cn.Router.Take(p, (*peerFan)(s))
	if res.Err != "" {
		return res
	}
	s.Metrics.ObserveFanOut(res.Delivered)
	if s.Debug {
		s.Log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", res.Delivered)
	}
	return res
}

// fromPeer is the message of a push taken from a peer, its payload already
// compacted by the node that took the publish.
func fromPeer(seq uint64, p *links.Push) *edge.Message {
	now := time.Now()
	m := edge.NewMessage(seq, now.UnixMilli())
	m.Born = now
	m.SetPayload(publish.ViewBytes(p.To), publish.ViewBytes(p.Event), publish.ViewBytes(p.ContentType), p.Data, p.JSON, p.QoS)
	return m
}

// peerFan is the route.Fanout of pushes taken from peers: off the loops, it
// gives every delivery to its loop's task queue.
type peerFan Mesh

var scratchPool = sync.Pool{New: func() any { return new(edge.LoopBatches) }}

// Deliver gives m to every target through its loop's task queue.
func (f *peerFan) Deliver(m *edge.Message, targets []conntable.Sub) int {
	s := (*Mesh)(f)
	b := scratchPool.Get().(*edge.LoopBatches)
	defer scratchPool.Put(b)
	if len(*b) < len(s.loops) {
		*b = make(edge.LoopBatches, len(s.loops))
	}
	for _, sub := range targets {
		(*b)[sub.Loop()] = append((*b)[sub.Loop()], engine.Task{H: engine.Handle(sub), Op: edge.OpDeliver, V: m})
	}
	m.RetainN(int32(len(targets))) // each task releases one after its loop's flush
	b.Submit(s.Eng)
	return len(targets)
}

// DeliverAll gives m to every subscriber of the node through the loops.
func (f *peerFan) DeliverAll(m *edge.Message) int {
	s := (*Mesh)(f)
	n := 0
	for i, ls := range s.loops {
		n += int(ls.Subscribers.Load())
		m.RetainN(1)
		s.Eng.Submit(i, engine.Task{Op: edge.OpDeliverAll, V: m})
	}
	return n
}
