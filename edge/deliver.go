package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// deliver writes m to subscriber sub (carried in an engine.Handle by the
// task queue) if it is still one of this loop's. It runs on sub's loop; the
// caller holds a reference to m until the loop's flush.
func (ls *Loop) deliver(l *engine.Loop, h engine.Handle, m *Message) {
	sub := conntable.Sub(h)
	c, conn := ls.SubscriberOf(sub)
	if c == nil {
		return
	}
	switch c.Mode {
	case ModeStream:
		if m.Seq <= c.Cursor {
			return // already written by the replay when the stream started
		}
		if m.QoS == 1 && m.Seq <= ls.ResyncMax && ls.sentToStream(h, m) {
			return // already written by a re-sync replay (mesh/resync.go)
		}
		if len(ls.Held) != 0 && ls.holdLive(m, h) {
			return
		}
		ls.observeDelay(m)
		ls.MessageTo(l, sub, c, conn, m)
	case ModePoll:
		ls.observeDelay(m)
		ls.one[0] = m
		ls.s.Glue.PollAnswer(l, sub, c, ls.one[:], false)
		ls.one[0] = nil
	}
}

// writeMessage writes m to the subscriber connection h carries.
func (ls *Loop) writeMessage(l *engine.Loop, h engine.Handle, c *ConnState, m *Message) {
	ls.MessageTo(l, conntable.ConnSub(conntable.Handle(h)), &c.SubState, h, m)
}

// MessageTo writes m's shared frame for s's format by reference, to the
// connection conn that carries subscriber sub.
func (ls *Loop) MessageTo(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, m *Message) {
	fr := m.Frame(s.Format, ls.s.Boundary)
	ls.writeTo(l, sub, s, conn, s.pick(fr.Raw, fr.chunked), true)
	s.At = ls.s.StampOf(l.Now())
	ls.MessagesOut.Add(1)
	if m.QoS == 1 {
		ls.NoteSent(l, engine.Handle(sub), m)
	}
}

// writeStored writes a stored message to the subscriber connection h
// carries; see storedTo.
func (ls *Loop) writeStored(l *engine.Loop, h engine.Handle, c *ConnState, m *Message, resend bool) {
	ls.StoredTo(l, conntable.ConnSub(conntable.Handle(h)), &c.SubState, h, m, resend)
}

// StoredTo writes a stored message during a replay; resend flags it as
// one the client may have had (push.AppendResendFrame).
func (ls *Loop) StoredTo(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, m *Message, resend bool) {
	if !resend {
		ls.MessageTo(l, sub, s, conn, m)
		return
	}
	ls.FrameTo(l, sub, s, conn, func(dst []byte) []byte { return push.AppendResendFrame(dst, s.Format, &m.Message, ls.s.Boundary) })
	ls.MessagesOut.Add(1)
	ls.NoteSent(l, engine.Handle(sub), m)
}

// sentToStream reports whether the QoS 1 user message m was written to h.
func (ls *Loop) sentToStream(h engine.Handle, m *Message) bool {
	user, ok := push.UserOf(m.To)
	return ok && ls.s.Sent.Has(user, conntable.Sub(h), m.Seq)
}

// NoteSent records a QoS 1 user message written to h, so that an ack may
// remove it from the store (store/sentlog.go).
func (ls *Loop) NoteSent(l *engine.Loop, h engine.Handle, m *Message) {
	if user, ok := push.UserOf(m.To); ok {
		ls.s.Sent.Note(user, conntable.Sub(h), m.Seq, m.Expiry, l.Now().UnixMilli())
	}
}

// fanOut hands m to every subscriber in targets: directly for this loop's
// subscribers, queued in ls.batches for the others until flushFanOut, so a
// batch publish takes each other loop's lock once. It returns how many
// connections m was handed to.
func (ls *Loop) fanOut(l *engine.Loop, m *Message, targets []conntable.Sub) int {
	queued, local := 0, false
	for _, sub := range targets {
		h := engine.Handle(sub) // the task queue's carrier for a subscriber
		if sub.Loop() == ls.Index {
			if !local { // one reference keeps m until this loop's flush, for every write
				local = true
				m.RetainN(1)
				l.Defer(m)
			}
			ls.deliver(l, h, m)
			continue
		}
		ls.batches[sub.Loop()] = append(ls.batches[sub.Loop()], engine.Task{H: h, Op: OpDeliver, V: m})
		queued++
	}
	m.RetainN(int32(queued)) // each queued task releases one after its loop's flush
	return len(targets)
}

// fanOutAll hands m to every subscriber of the node (/pub/all): this loop
// walks its own pages now, every other loop gets one task that does the
// same. It returns how many subscribers there were.
func (ls *Loop) fanOutAll(l *engine.Loop, m *Message) int {
	n := 0
	for i, other := range ls.s.Loops {
		n += int(other.Subscribers.Load())
		if i == ls.Index {
			m.RetainN(1) // until this loop's flush, for all its writes
			l.Defer(m)
			ls.deliverAll(l, m)
			continue
		}
		m.RetainN(1)
		ls.batches[i] = append(ls.batches[i], engine.Task{Op: OpDeliverAll, V: m})
	}
	return n
}

// deliverAll writes m to every subscriber of this loop. The caller holds a
// reference to m until this loop's flush; that one covers every write.
func (ls *Loop) deliverAll(l *engine.Loop, m *Message) {
	for _, page := range ls.Pages {
		for i := range page {
			if c := &page[i]; c.Subscribed {
				ls.deliver(l, c.H, m)
			}
		}
	}
	ls.EachStream(ls.Index, func(sub conntable.Sub, st *StreamSub) {
		if st.Subscribed {
			ls.deliver(l, engine.Handle(sub), m)
		}
	})
}

// FlushFanOut hands the queued deliveries to their loops.
func (ls *Loop) FlushFanOut() {
	ls.batches.Submit(ls.s.Eng)
}

// observeDelay reports m's delivery delay once per message on this loop: the
// first subscriber it is written to stands for the rest (admin/metrics.go).
func (ls *Loop) observeDelay(m *Message) {
	if m.Seq != ls.delaySeq {
		ls.delaySeq = m.Seq
		ls.s.Glue.ObserveDelay(ls.Index, m)
	}
}
