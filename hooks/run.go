package hooks

import (
	"bytes"
	"math/rand/v2"
	"time"
)

const (
	backoffMin = 100 * time.Millisecond // wait after the first failed POST
	backoffMax = 5 * time.Second        // the doubling stops here
	// keepBytes is the most buffer capacity kept once the queue drains: a connect storm may
	// grow a buffer to the whole queue (megabytes), which an idle sender should not hold.
	keepBytes = 1 << 20
)

// sendQueue is the sender goroutine's side of the queue. Lines move from Sender.in to out in
// one swap: in becomes spare's memory and spare becomes in's, so the two callers' buffers are
// reused and callers never wait for a copy. out[off:] holds outN lines, oldest first; the batch
// being POSTed is always its first batchN lines (batchLen bytes), and stays so, unchanged,
// until the hook accepts it. That is what keeps order through retries.
type sendQueue struct {
	out      []byte
	off      int
	outN     int
	since    time.Time // no line in out[off:] was queued before since (a lower bound)
	spare    []byte    // the callers' next buffer
	batchLen int       // 0: no batch cut yet
	batchN   int
	backoff  time.Duration // last backoff step; 0 after a success
	failures int           // failed attempts since the last success
	timer    *time.Timer   // Interval waits and backoff sleeps; stopped when idle
}

// run is the sender goroutine: it waits for a batch to be due, POSTs it, and repeats until
// Close. Lines given up (Close's ctx ended) count as Dropped.
func (s *Sender) run() {
	defer close(s.done)
	defer s.giveUp() // releases the ties of any connection closeIdle did not close
	defer s.post.closeIdle()
	for s.next() {
		s.send()
	}
	s.mu.Lock()
	s.stats.Dropped += uint64(s.queued)
	s.queued, s.inN, s.in = 0, 0, s.in[:0]
	s.mu.Unlock()
}

// next waits until a POST is due and reports whether one is; false means stop. A POST is due
// at once for a batch to retry (its backoff was already slept), a full batch, or anything
// queued while closing; otherwise Interval after the oldest queued line. With nothing queued
// it blocks on wake, costing nothing.
func (s *Sender) next() bool {
	q := &s.q
	for {
		if s.abort.Err() != nil {
			return false
		}
		if q.batchLen > 0 {
			return true
		}
		// Seen closing before take: every line added before Close is then in out.
		closing := isClosed(s.closing)
		s.take()
		if q.outN == 0 {
			if closing {
				return false
			}
			select {
			case <-s.wake:
			case <-s.closing:
			}
			continue
		}
		if closing || q.outN >= s.o.MaxBatch {
			return true
		}
		wait := time.Until(q.since.Add(s.o.Interval))
		if wait <= 0 {
			return true
		}
		q.timer.Reset(wait)
		select {
		case <-q.timer.C: // loops once more: take what came meanwhile, then the POST is due
		case <-s.wake:
		case <-s.closing:
		}
		q.timer.Stop()
	}
}

// take moves the callers' lines behind out's, unless out already holds a full batch.
func (s *Sender) take() {
	q := &s.q
	if q.outN >= s.o.MaxBatch {
		return
	}
	s.mu.Lock()
	in, n, since := s.in, s.inN, s.inSince
	if n == 0 {
		s.mu.Unlock()
		return
	}
	s.in, s.inN = q.spare[:0], 0
	s.mu.Unlock()

	if q.outN == 0 {
		q.out, q.off = q.out[:0], 0
		q.since = since
		if now := time.Now(); since.After(now) {
			q.since = now // an at from the future must not delay the POST
		}
	} else if q.off > 0 {
		// Keep q.since: it stays a lower bound for the older lines still here.
		q.out = append(q.out[:0], q.out[q.off:]...)
		q.off = 0
	}
	q.out = append(q.out, in...)
	q.outN += n
	q.spare = trim(in)
}

// send cuts a batch if none is pending, POSTs it, and counts the outcome. After a failure it
// sleeps the backoff, so the batch is retried as soon as next returns.
func (s *Sender) send() {
	q := &s.q
	if q.batchLen == 0 {
		q.batchLen, q.batchN = cutLines(q.out[q.off:], s.o.MaxBatch)
	}
	err := s.post.do(q.out[q.off : q.off+q.batchLen])
	if err == nil {
		s.accepted()
		return
	}
	if s.abort.Err() != nil {
		return // Close gave up and cut this POST; run counts the batch as Dropped
	}
	s.failed(err)
}

// accepted drops the batch the hook took, counts it, and ends any backoff.
func (s *Sender) accepted() {
	q := &s.q
	s.mu.Lock()
	s.stats.Sent += uint64(q.batchN)
	s.queued -= q.batchN
	s.mu.Unlock()
	q.off += q.batchLen
	q.outN -= q.batchN
	q.batchLen, q.batchN = 0, 0
	if q.outN == 0 {
		q.out, q.off = trim(q.out), 0
	}
	if q.failures > 0 {
		s.log.Info("hook: POSTs accepted again", "url", s.url.logged, "failed_attempts", q.failures)
	}
	q.backoff, q.failures = 0, 0
}

// failed counts a failed attempt, logs it (once per backoff step: every attempt is followed by
// one), and sleeps the next backoff step unless Close gives up first.
func (s *Sender) failed(err error) {
	q := &s.q
	s.mu.Lock()
	s.stats.Failed++
	queued := s.queued
	s.mu.Unlock()
	q.failures++
	q.backoff = nextBackoff(q.backoff)
	wait := jitter(q.backoff)
	s.log.Warn("hook: POST failed", "url", s.url.logged, "err", err, "events", q.batchN,
		"queued", queued, "attempt", q.failures, "retry_in", wait)
	q.timer.Reset(wait)
	select {
	case <-q.timer.C:
	case <-s.abort.Done():
		q.timer.Stop()
	}
}

// nextBackoff is the backoff step after d: backoffMin first, then doubling up to backoffMax.
func nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return backoffMin
	}
	return min(2*d, backoffMax)
}

// jitter returns a wait in [d/2, d), so that nodes a hook outage failed together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d-d/2)
}

// cutLines returns the length and the number of b's first lines, no more than most of them.
// Every line ends in '\n' (appendEvent).
func cutLines(b []byte, most int) (length, n int) {
	for n < most && length < len(b) {
		length += bytes.IndexByte(b[length:], '\n') + 1
		n++
	}
	return length, n
}

// trim empties b for reuse, or forgets it when it grew past keepBytes.
func trim(b []byte) []byte {
	if cap(b) > keepBytes {
		return nil
	}
	return b[:0]
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
