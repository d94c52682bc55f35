package links

import "time"

// Observer receives the timings Links measures, for a node's /metrics. Its
// methods are called on the goroutine that measured, often many at once: they
// must be safe for concurrent use and cheap (a histogram update), since they
// run once per forwarded call. A nil Observer in LinkOptions measures nothing
// and costs nothing. (cluster.Observer is its Redis counterpart; one value may
// be both.)
type Observer interface {
	// LinkRoundTrip is the time from queueing a ForwardBatch on a
	// link to its last answer; calls that failed, and queries, are not observed.
	LinkRoundTrip(d time.Duration)
	// LinkQueued is a link's requests in flight (queued or sent, not yet
	// answered) right after a call queued its own: the queue depth.
	LinkQueued(inflight int)
}
