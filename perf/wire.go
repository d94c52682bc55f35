package perf

// The parent and its worker processes talk in JSON lines over the worker's stdin/stdout:
// the parent sends one command at a time and waits for its reply; a worker also sends
// unsolicited "seq" events when every one of its subscribers has a broadcast message.

// Worker commands and events (wireMsg.Op).
const (
	opConnect = "connect" // open the subscribers in Cfg; reply when all are up or failed
	opReset   = "reset"   // zero the counters; track Seqs broadcast sequence numbers
	opStats   = "stats"   // counters only (cheap; polled while waiting for deliveries)
	opReport  = "report"  // counters, histogram and per-sequence receipt times
	opQuit    = "quit"    // close every subscriber and exit
	opSeqDone = "seq"     // event: all of this worker's subscribers got broadcast Seq
)

// WorkerConfig is what one worker holds: subscribers From..To-1 of a run.
type WorkerConfig struct {
	Target Target `json:"target"`
	// Prefix names the subscribers: Prefix+i for i in [From, To), or Prefix itself for all
	// when Shared (one broadcast topic/channel).
	Prefix string `json:"prefix"`
	From   int    `json:"from"`
	To     int    `json:"to"`
	Shared bool   `json:"shared,omitempty"`
	// SourceIP, when set, is bound before connect: one address gives ~28k ephemeral ports
	// towards one destination, so big runs spread workers over 127.0.0.x.
	SourceIP string `json:"source_ip,omitempty"`
	// Concurrency bounds connects in flight, so the server's accept backlog never overflows.
	Concurrency int `json:"concurrency"`
	// WantKeys asks for the Push-Conn keys in the connect reply (pushwire unicast by conn).
	WantKeys bool `json:"want_keys,omitempty"`
	// Topic, when set, is a topic every (unshared) pushwire subscriber also subscribes to,
	// so one set of streams serves unicast by user and fan-out to all.
	Topic string `json:"topic,omitempty"`
	// Reconnect, when set, makes a stream the server ends open again the way a browser's
	// EventSource does (reconnect.go).
	Reconnect *Reconnect `json:"reconnect,omitempty"`
}

// Reconnect says how streams come back after the server ends them.
type Reconnect struct {
	// Edges are the addresses a stream may reopen on; one whose node ended it is skipped,
	// as a load balancer takes a dead node out.
	Edges []string `json:"edges"`
	// Jitter adds up to Jitter × retry to each wait (0.5: between 1× and 1.5× the SSE
	// retry), so that streams ended at the same moment do not all come back in it.
	Jitter float64 `json:"jitter"`
	// DefaultRetryMs is the wait when the stream sent no SSE retry: line.
	DefaultRetryMs int `json:"default_retry_ms"`
}

// WorkerStats are one worker's counters; the parent sums them over workers.
type WorkerStats struct {
	Connected    int   `json:"connected"`
	Failed       int   `json:"failed"`
	Closed       int   `json:"closed"`        // subscribers the server closed after they were up
	ConnectNanos int64 `json:"connect_nanos"` // connect command to the last head received
	Received     int64 `json:"received"`      // stamped messages
	Foreign      int64 `json:"foreign"`       // message frames without a pushbench stamp
	Control      int64 `json:"control"`       // registered, heartbeat and control frames
	FirstRecv    int64 `json:"first_recv"`    // monotonic ns of the first stamped message
	LastRecv     int64 `json:"last_recv"`
	// With Reconnect: streams open again after the server ended them, the monotonic ns of
	// the last such reopening, and streams ended and not open again yet.
	Resubscribed    int   `json:"resubscribed,omitempty"`
	LastResubscribe int64 `json:"last_resubscribe,omitempty"`
	Waiting         int   `json:"waiting,omitempty"`

	Latency  *wireLatency `json:"latency,omitempty"`
	SeqCount []int32      `json:"seq_count,omitempty"`
	SeqFirst []int64      `json:"seq_first,omitempty"`
	SeqLast  []int64      `json:"seq_last,omitempty"`
}

type wireMsg struct {
	Op    string        `json:"op"`
	Cfg   *WorkerConfig `json:"cfg,omitempty"`
	Seqs  int           `json:"seqs,omitempty"`
	Seq   int           `json:"seq,omitempty"`
	Stats *WorkerStats  `json:"stats,omitempty"`
	Keys  []string      `json:"keys,omitempty"`
	Err   string        `json:"err,omitempty"`
}
