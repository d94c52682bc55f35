package publish

import (
	"bytes"
	"time"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// Pipelined routed publishes (issue 17): a keep-alive api connection whose
// publish must reach other nodes does not wait for that answer before its
// next request is read. Its answers go out in request order through an
// answerQueue: a slot per request in flight, filled on the loop as the
// router finishes each (OpPipeReply) or at once for a request answered on
// the loop, and written as soon as every earlier slot is. The connection's
// routing jobs go through one routeLane (routelane.go), one after another,
// so its messages reach each node in the order they were published.
//
// The queue is borrowed from the loop only while requests are in flight:
// idle connections, subscribers above all, carry nothing for it.

// maxInFlight bounds one connection's requests in flight; past it the
// connection stops being read (modeAsync: the engine carries its bytes, as
// for any answer made elsewhere) until the oldest is answered.
const maxInFlight = 64

// maxSparePipes bounds the queues a loop keeps for reuse (each holds its
// slots' answer buffers): a burst of pipelining publishers leaves no more.
const maxSparePipes = 16

// answerQueue is one api connection's answers in request order while some
// of them are being routed. Only the loop touches it, except lane.
type answerQueue struct {
	slots [maxInFlight]answerSlot // a ring: the request of seq s is slots[s%maxInFlight]
	base  uint32                  // seq of the oldest request not answered yet
	n     uint32                  // requests in flight
	wait  pipeWait                // why the connection stopped being read, if it did
	close bool                    // the last answer closes the connection (a refused request)
	lane  *routeLane              // the router's side: jobs in order (routelane.go)
	h     engine.Handle           // the connection; set while borrowed
	l     *engine.Loop
	write func() // writes the answered head of the queue (l.Answer's callback, made once)
}

// answerSlot is one request's answer, or its place while it is routed.
type answerSlot struct {
	ready bool
	reply []byte    // the whole HTTP answer; a small buffer is reused by later answers made on the loop (pipekeep.go)
	read  time.Time // a routed publish: when it was read (publish seconds)
}

// pipeWait is why a connection with requests in flight is not read.
type pipeWait uint8

const (
	waitNone  pipeWait = iota
	waitRoom           // maxInFlight are in flight: read on when the oldest is answered
	waitEmpty          // a request that is not a plain publish: read on when all are answered
)

// loopPipes is a loop's answer queues: the connections' that have requests
// in flight, and spares kept for the next (their buffers and lanes reused).
type loopPipes struct {
	pipes       map[engine.Handle]*answerQueue
	sparePipes  []*answerQueue
	PipedRouted bool // the request being served was handed to the router piped (publishServed)
}

// PipeOf is h's answer queue, nil when it has no request in flight.
func (lp *loopPipes) PipeOf(h engine.Handle) *answerQueue {
	if len(lp.pipes) == 0 {
		return nil
	}
	return lp.pipes[h]
}

// borrowPipe gives h an answer queue.
func (lp *loopPipes) borrowPipe(l *engine.Loop, h engine.Handle) *answerQueue {
	var q *answerQueue
	if n := len(lp.sparePipes); n > 0 {
		q = lp.sparePipes[n-1]
		lp.sparePipes = lp.sparePipes[:n-1]
	} else {
		q = &answerQueue{lane: &routeLane{}}
		q.write = q.writeAnswered
		if lp.pipes == nil {
			lp.pipes = map[engine.Handle]*answerQueue{}
		}
	}
	if q.lane == nil {
		q.lane = &routeLane{} // the old one was left to a closed connection's jobs
	}
	q.h, q.l, q.wait, q.close = h, l, waitNone, false
	lp.pipes[h] = q
	return q
}

// returnPipe gives q back to the loop once it is empty or its connection
// closed. Given back empty, every job of its lane was answered: the lane
// goes with it, even if its worker has not looped back yet (it finds the
// next connection's job, or nothing, and stops), so that steady routed
// publishing makes no lane per request. Given back with requests in flight
// (a closed connection), its lane may still route their jobs (their answers
// find no queue and are dropped): it is left to them, unless idle, and
// borrowPipe makes a new one.
func (lp *loopPipes) returnPipe(q *answerQueue) {
	delete(lp.pipes, q.h)
	if q.n > 0 && !q.lane.idle() {
		q.lane = nil
	}
	for q.n > 0 {
		sl := &q.slots[q.base%maxInFlight]
		sl.reply, sl.ready = keptReply(sl.reply), false
		q.base++
		q.n--
	}
	q.h, q.l = 0, nil
	if len(lp.sparePipes) < maxSparePipes {
		lp.sparePipes = append(lp.sparePipes, q)
	}
}

// push takes the slot of the next request and returns its seq.
func (q *answerQueue) push() uint32 {
	s := q.base + q.n
	q.n++
	sl := &q.slots[s%maxInFlight]
	sl.ready, sl.read = false, time.Time{}
	return s
}

// queue appends an answer made on the loop behind those in flight.
func (q *answerQueue) queue(answer []byte) {
	sl := &q.slots[q.push()%maxInFlight]
	sl.reply = append(sl.reply[:0], answer...)
	sl.ready = true
}

// writeAnswered writes the answers at the head of the queue that are ready,
// in order. It runs inside l.Answer: an answer may be a large batch's.
func (q *answerQueue) writeAnswered() {
	for q.n > 0 {
		sl := &q.slots[q.base%maxInFlight]
		if !sl.ready {
			return
		}
		q.l.Write(q.h, sl.reply)
		sl.reply, sl.ready = keptReply(sl.reply), false
		q.base++
		q.n--
	}
}

// pipelines reports whether req may be served while earlier requests of
// its connection are in flight: a keep-alive publish whose answer is made
// on the loop or by the router. A keyed publish claims its keys first
// (idempotency.go), and anything else may answer from elsewhere or close
// the connection: they wait until every earlier answer is written.
func pipelines(req *httpcodec.Request, keepAlive bool) bool {
	path := req.Path()
	return keepAlive && string(req.Method()) == "POST" && len(path) >= 4 && string(path[:4]) == "/pub" &&
		req.Header("Idempotency-Key") == nil && (string(path) != "/pub" || !hasBatchKey(req.Body()))
}

// WaitPipe decides, for a request read on an api connection, whether it
// must wait for the requests in flight before it; true when it must: the
// connection then stops being read until they are answered.
func (ls *Publishing) WaitPipe(c *edge.ConnState, req *httpcodec.Request, keepAlive bool) bool {
	q := ls.PipeOf(c.H)
	switch {
	case q == nil:
		return false
	case !pipelines(req, keepAlive):
		q.wait = waitEmpty
	case q.n >= maxInFlight:
		q.wait = waitRoom
	default:
		return false
	}
	c.Mode = edge.ModeAsync
	return true
}

// FullPipe reports whether c's answer queue is full, and makes it wait for
// room: not even a malformed request may be parsed now, as its refusal would
// need a slot; nor may a header timer run. It is read on when the oldest is
// answered.
func (ls *Publishing) FullPipe(c *edge.ConnState) bool {
	q := ls.PipeOf(c.H)
	if q == nil || q.n < maxInFlight {
		return false
	}
	q.wait, c.Mode = waitRoom, edge.ModeAsync
	return true
}

// Reply writes an answer to h, or queues it behind h's requests in flight.
func (ls *Publishing) Reply(l *engine.Loop, h engine.Handle, answer []byte) {
	if q := ls.PipeOf(h); q != nil {
		q.queue(answer)
		return
	}
	l.Write(h, answer)
}

// dispatchPiped hands a routing job to the connection's lane and goes on
// reading; the answer takes the next slot of its queue.
func (ls *Publishing) dispatchPiped(l *engine.Loop, h engine.Handle, job *RouteJob) {
	q := ls.PipeOf(h)
	if q == nil {
		q = ls.borrowPipe(l, h)
	}
	job.seq, job.piped = q.push(), true
	q.slots[job.seq%maxInFlight].read = l.Now()
	ls.PipedRouted = true
	ls.s.enqueue(q.lane, job)
}

// PipeAnswered runs on the loop when the router answered a piped job: it
// fills its slot, writes what is now in order, and reads the connection
// again if it waited for that.
func (ls *Publishing) PipeAnswered(l *engine.Loop, job *RouteJob) {
	h := job.from
	q := ls.PipeOf(h)
	c := ls.Live(h)
	if q == nil || c == nil {
		return // closed meanwhile
	}
	sl := &q.slots[job.seq%maxInFlight]
	sl.reply, sl.ready = job.reply, true
	ls.s.Metrics.ObservePublish(sl.read)
	l.Answer(h, q.write)
	if q.wait != waitNone && c.Mode == edge.ModeAsync && (q.n == 0 || q.wait == waitRoom && q.n < maxInFlight) {
		q.wait = waitNone
		c.Mode = edge.ModeRequest
		l.Resume(h)
	}
	if q.n == 0 {
		if q.close {
			l.CloseAfterFlush(h)
		}
		ls.returnPipe(q)
	}
}

// CloseAfterPipe queues a refusal (a malformed request, a header timeout)
// behind h's answers in flight and has the connection close after it; false
// when h has none, and the refusal is written now.
func (ls *Publishing) CloseAfterPipe(h engine.Handle, answer []byte) bool {
	q := ls.PipeOf(h)
	if q == nil {
		return false
	}
	q.queue(answer)
	q.close = true
	return true
}

// DropPipe forgets h's queue when h closes.
func (ls *Publishing) DropPipe(h engine.Handle) {
	if q := ls.PipeOf(h); q != nil {
		ls.returnPipe(q)
	}
}

// hasBatchKey reports whether a batch body may carry idempotency keys.
func hasBatchKey(body []byte) bool { return bytes.Contains(body, BatchKeyField) }
