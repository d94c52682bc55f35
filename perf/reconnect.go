package perf

import (
	"container/heap"
	"math/rand/v2"
	"strconv"
)

// A worker with WorkerConfig.Reconnect behaves as a browser's EventSource when the server
// ends a stream (its node was killed, drained, or refused the stream): it waits the
// stream's SSE retry (plus jitter), opens it again on another edge, and sends the newest
// id it saw as Last-Event-ID, so that QoS 1 messages resume from that cursor. A reopening
// that fails (refused, reset, non-200) waits again and tries the next edge. Waits are kept
// in one heap per worker: the loop's epoll_wait sleeps until the earliest is due, so a
// waiting stream costs no timer and no goroutine.

// redial is one stream waiting to be opened again.
type redial struct {
	due int64 // monotonic ns
	i   int32 // index into worker.conns
}

type redialHeap []redial

func (h redialHeap) Len() int           { return len(h) }
func (h redialHeap) Less(a, b int) bool { return h[a].due < h[b].due }
func (h redialHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *redialHeap) Push(x any)        { *h = append(*h, x.(redial)) }
func (h *redialHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}

// scheduleRedial records what conn i's ended stream knew and queues its reopening.
// fresh is true when an open stream ended (not a reopening that failed).
func (w *worker) scheduleRedial(i int, fresh bool) {
	c := &w.conns[i]
	c.cursor = max(c.cursor, c.st.LastID)
	if c.st.RetryMs > 0 {
		c.retryMs = c.st.RetryMs
	}
	if fresh {
		w.stats.Waiting++
		c.lost, c.tries = c.edge, 0
	}
	c.re = true
	retry := int64(c.retryMs)
	if retry == 0 {
		retry = int64(w.cfg.Reconnect.DefaultRetryMs)
	}
	wait := retry * 1e6
	if j := w.cfg.Reconnect.Jitter; j > 0 {
		wait += int64(rand.Float64() * j * float64(wait))
	}
	heap.Push(&w.redials, redial{due: MonoNow() + wait, i: int32(i)})
}

// pollTimeout is epoll_wait's timeout in ms: until the earliest reopening is due, or -1.
func (w *worker) pollTimeout() int {
	if len(w.redials) == 0 {
		return -1
	}
	ms := (w.redials[0].due - MonoNow() + 999_999) / 1e6
	return int(max(ms, 0))
}

// redialDue opens the streams whose wait is over, each on the next edge.
func (w *worker) redialDue() {
	now := MonoNow()
	for len(w.redials) > 0 && w.redials[0].due <= now {
		r := heap.Pop(&w.redials).(redial)
		i := int(r.i)
		c := &w.conns[i]
		c.edge = w.nextEdge(i)
		if err := w.dial(i); err != nil {
			c.state = connClosed
			w.scheduleRedial(i, false)
		}
	}
}

// nextEdge picks the edge for conn i's next try: the edges other than lost (the one whose
// stream ended), conn i's turn among them, one further on each failed try. So a dead
// node's streams split evenly over the others, and a stream refused by a full or dead
// node tries each of the others in turn.
func (w *worker) nextEdge(i int) uint8 {
	c := &w.conns[i]
	edges := w.cfg.Reconnect.Edges
	lost := w.edgeAddr(c.lost)
	others := 0
	for _, e := range edges {
		if e != lost {
			others++
		}
	}
	if others == 0 {
		return c.lost
	}
	k := (i + int(c.tries)) % others
	c.tries++
	for e, addr := range edges {
		if addr == lost {
			continue
		}
		if k == 0 {
			return uint8(e + 1)
		}
		k--
	}
	return c.lost
}

func (w *worker) edgeAddr(e uint8) string {
	if e == 0 || w.cfg.Reconnect == nil {
		return w.cfg.Target.Edge
	}
	return w.cfg.Reconnect.Edges[e-1]
}

// appendClusterSubscribe builds conn i's pushwire subscribe when the worker subscribes to a
// topic besides the user, or reopens streams: Host names the edge dialed, and a reopening
// carries Last-Event-ID.
func (w *worker) appendClusterSubscribe(dst []byte, i int) []byte {
	c := &w.conns[i]
	t := w.cfg.Target
	dst = t.AppendSubscribePath(dst, w.id(i), w.cfg.Shared)
	if w.cfg.Topic != "" {
		dst = append(dst, "&topic="...)
		dst = append(dst, w.cfg.Topic...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, w.edgeAddr(c.edge)...)
	if t.Format == FormatSSE {
		dst = append(dst, "\r\nAccept: text/event-stream"...)
	}
	if c.cursor > 0 {
		dst = append(dst, "\r\nLast-Event-ID: "...)
		dst = strconv.AppendUint(dst, c.cursor, 10)
	}
	return append(dst, "\r\n\r\n"...)
}

// resubscribed counts conn i's stream as open again.
func (w *worker) resubscribed(i int) {
	w.conns[i].re = false
	w.stats.Resubscribed++
	w.stats.Waiting--
	w.stats.LastResubscribe = w.now
}
