package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// takeFromPeer is the link server's handler: a push forwarded by another node,
// delivered to this node's connections only. It runs on the link's
// goroutine, so every delivery is handed to its loop.
func (cn *clusterNode) takeFromPeer(p *cluster.Push) cluster.Result {
	s := cn.s
	if !s.admitTake() { // handoff.go: no push may reach a connection being handed over
		return cluster.Result{Err: errTakeUpgrading}
	}
	defer s.up.takes.Add(-1)
	cn.received.Add(1)
	seq, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil {
		return cluster.Result{Err: "bad message id"}
	}
	kind, name, ok := peerAddress(p)
	if !ok {
		return cluster.Result{Err: "bad address"}
	}
	now := time.Now()
	m := newMessage(seq, now.UnixMilli())
	defer m.Release()
	m.born = now
	m.setPayload(viewBytes(p.To), viewBytes(p.Event), viewBytes(p.ContentType), p.Data, p.JSON, p.QoS)
	sc := scratchPool.Get().(*fanScratch)
	defer scratchPool.Put(sc)
	var key connKey
	switch kind {
	case push.Conn:
		var node []byte
		key, node, ok = parseKeyText(name)
		if !ok || (node != nil && string(node) != s.nodeID) {
			return cluster.Result{Err: "conn key is not held by this node"}
		}
	case push.All:
		n := s.handOverAll(m)
		s.metrics.observeFanOut(n)
		if s.debug {
			s.log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", n)
		}
		return cluster.Result{Delivered: n}
	}
	targets, _ := s.localTargets(sc.targets[:0], kind, name, key, m)
	sc.targets = targets
	s.handOver(m, targets, sc)
	s.metrics.observeFanOut(len(targets))
	if s.debug {
		s.log.Debug("hop: delivered from a peer", "trace", p.Trace, "to", p.To, "delivered", len(targets))
	}
	return cluster.Result{Delivered: len(targets)}
}

var scratchPool = sync.Pool{New: func() any { return new(fanScratch) }}

// handOver gives m to every target through its loop's task queue.
func (s *Server) handOver(m *message, targets []conntable.Sub, sc *fanScratch) {
	if len(sc.batches) < len(s.loops) {
		sc.batches = make(loopBatches, len(s.loops))
	}
	for _, sub := range targets {
		sc.batches[sub.Loop()] = append(sc.batches[sub.Loop()], engine.Task{H: engine.Handle(sub), Op: opDeliver, V: m})
	}
	m.retain(int32(len(targets))) // each task releases one after its loop's flush
	sc.batches.submit(s.eng)
}

// handOverAll gives m to every subscriber of the node through the loops.
func (s *Server) handOverAll(m *message) int {
	n := 0
	for i, ls := range s.loops {
		n += int(ls.subscribers.Load())
		m.retain(1)
		s.eng.Submit(i, engine.Task{Op: opDeliverAll, V: m})
	}
	return n
}

// peerAddress is the kind and name of a peer's push: the kind travels in the
// link frame, so only the name is cut from To; a push from a node that sends
// no kind is parsed whole.
func peerAddress(p *cluster.Push) (push.Kind, []byte, bool) {
	to := viewBytes(p.To)
	if p.Kind == 0 || p.Kind > uint8(push.All)+1 {
		return push.ParseAddress(to)
	}
	kind := push.Kind(p.Kind - 1)
	name, ok := push.AddressName(to, kind)
	return kind, name, ok
}
