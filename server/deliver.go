package server

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// deliver writes m to subscriber sub (carried in an engine.Handle by the
// task queue) if it is still one of this loop's. It runs on sub's loop; the
// caller holds a reference to m until the loop's flush.
func (ls *Loop) deliver(l *engine.Loop, h engine.Handle, m *message) {
	sub := conntable.Sub(h)
	c, conn := ls.subscriberOf(sub)
	if c == nil {
		return
	}
	switch c.mode {
	case modeStream:
		if m.Seq <= c.cursor {
			return // already written by the replay when the stream started
		}
		if m.QoS == 1 && m.Seq <= ls.resyncMax && ls.sentToStream(h, m) {
			return // already written by a re-sync replay (resync.go)
		}
		if len(ls.held) != 0 && ls.holdLive(m, h) {
			return
		}
		ls.observeDelay(m)
		ls.messageTo(l, sub, c, conn, m)
	case modePoll:
		ls.observeDelay(m)
		ls.one[0] = m
		ls.s.glue.pollAnswer(l, sub, c, ls.one[:], false)
		ls.one[0] = nil
	}
}

// writeMessage writes m to the subscriber connection h carries.
func (ls *Loop) writeMessage(l *engine.Loop, h engine.Handle, c *connState, m *message) {
	ls.messageTo(l, conntable.ConnSub(conntable.Handle(h)), &c.subState, h, m)
}

// messageTo writes m's shared frame for s's format by reference, to the
// connection conn that carries subscriber sub.
func (ls *Loop) messageTo(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, m *message) {
	fr := m.frame(s.format, ls.s.boundary)
	ls.writeTo(l, sub, s, conn, s.pick(fr.raw, fr.chunked), true)
	s.at = ls.s.stampOf(l.Now())
	ls.messagesOut.Add(1)
	if m.QoS == 1 {
		ls.noteSent(l, engine.Handle(sub), m)
	}
}

// writeStored writes a stored message to the subscriber connection h
// carries; see storedTo.
func (ls *Loop) writeStored(l *engine.Loop, h engine.Handle, c *connState, m *message, resend bool) {
	ls.storedTo(l, conntable.ConnSub(conntable.Handle(h)), &c.subState, h, m, resend)
}

// storedTo writes a stored message during a replay; resend flags it as
// one the client may have had (push.AppendResendFrame).
func (ls *Loop) storedTo(l *engine.Loop, sub conntable.Sub, s *subState, conn engine.Handle, m *message, resend bool) {
	if !resend {
		ls.messageTo(l, sub, s, conn, m)
		return
	}
	ls.frameTo(l, sub, s, conn, func(dst []byte) []byte { return push.AppendResendFrame(dst, s.format, &m.Message, ls.s.boundary) })
	ls.messagesOut.Add(1)
	ls.noteSent(l, engine.Handle(sub), m)
}

// sentToStream reports whether the QoS 1 user message m was written to h.
func (ls *Loop) sentToStream(h engine.Handle, m *message) bool {
	user, ok := push.UserOf(m.To)
	return ok && ls.s.sent.Has(user, conntable.Sub(h), m.Seq)
}

// noteSent records a QoS 1 user message written to h, so that an ack may
// remove it from the store (sentlog.go).
func (ls *Loop) noteSent(l *engine.Loop, h engine.Handle, m *message) {
	if user, ok := push.UserOf(m.To); ok {
		ls.s.sent.Note(user, conntable.Sub(h), m.Seq, m.Expiry, l.Now().UnixMilli())
	}
}

// fanOut hands m to every subscriber in targets: directly for this loop's
// subscribers, queued in ls.batches for the others until flushFanOut, so a
// batch publish takes each other loop's lock once. It returns how many
// connections m was handed to.
func (ls *Loop) fanOut(l *engine.Loop, m *message, targets []conntable.Sub) int {
	queued, local := 0, false
	for _, sub := range targets {
		h := engine.Handle(sub) // the task queue's carrier for a subscriber
		if sub.Loop() == ls.index {
			if !local { // one reference keeps m until this loop's flush, for every write
				local = true
				m.retain(1)
				l.Defer(m)
			}
			ls.deliver(l, h, m)
			continue
		}
		ls.batches[sub.Loop()] = append(ls.batches[sub.Loop()], engine.Task{H: h, Op: opDeliver, V: m})
		queued++
	}
	m.retain(int32(queued)) // each queued task releases one after its loop's flush
	return len(targets)
}

// fanOutAll hands m to every subscriber of the node (/pub/all): this loop
// walks its own pages now, every other loop gets one task that does the
// same. It returns how many subscribers there were.
func (ls *Loop) fanOutAll(l *engine.Loop, m *message) int {
	n := 0
	for i, other := range ls.s.loops {
		n += int(other.subscribers.Load())
		if i == ls.index {
			m.retain(1) // until this loop's flush, for all its writes
			l.Defer(m)
			ls.deliverAll(l, m)
			continue
		}
		m.retain(1)
		ls.batches[i] = append(ls.batches[i], engine.Task{Op: opDeliverAll, V: m})
	}
	return n
}

// deliverAll writes m to every subscriber of this loop. The caller holds a
// reference to m until this loop's flush; that one covers every write.
func (ls *Loop) deliverAll(l *engine.Loop, m *message) {
	for _, page := range ls.pages {
		for i := range page {
			if c := &page[i]; c.subscribed {
				ls.deliver(l, c.h, m)
			}
		}
	}
	ls.eachStream(ls.index, func(sub conntable.Sub, st *streamSub) {
		if st.subscribed {
			ls.deliver(l, engine.Handle(sub), m)
		}
	})
}

// flushFanOut hands the queued deliveries to their loops.
func (ls *Loop) flushFanOut() {
	ls.batches.submit(ls.s.eng)
}

// observeDelay reports m's delivery delay once per message on this loop: the
// first subscriber it is written to stands for the rest (admin/metrics.go).
func (ls *Loop) observeDelay(m *message) {
	if m.Seq != ls.delaySeq {
		ls.delaySeq = m.Seq
		ls.s.glue.observeDelay(ls.index, m)
	}
}
