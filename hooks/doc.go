// Package hooks tells a back-end which conn keys exist (SPEC §6, --hook-url): every connect and
// disconnect becomes one NDJSON line, and one goroutine POSTs the lines in batches, retrying
// with backoff, from a bounded queue whose overflow is dropped and counted. The event loops that
// report the events never wait for it.
//
// # API
//
//	type Options struct { URL; Queue, MaxBatch int; Interval, Timeout time.Duration; Logger }
//	New(Options) (*Sender, error)          // validates URL, starts the sender (sender.go, options.go)
//	(*Sender).Connect(conn, user []byte, node string, at time.Time)    // queue or drop; never blocks
//	(*Sender).Disconnect(conn, user []byte, node string, at time.Time)
//	(*Sender).Stats() Stats                // Sent, Dropped, Failed, Queued; any goroutine
//	(*Sender).Close(ctx) error             // send what is queued until ctx ends, then stop
//
// Files: sender.go (Sender, the callers' side), encode.go (one line), run.go (the sender
// goroutine: batching, order, backoff), post.go (the POST over fasthttp), options.go.
//
// # What the hook receives
//
// POST <URL> with Content-Type: application/x-ndjson, a body of one line per event, oldest first:
//
//	{"type":"connect","conn":"<conn key>","user":"42","node":"n1","time":1763761234567}
//	{"type":"disconnect","conn":"<conn key>","node":"n1","time":1763761299001}
//
// "user" is left out when the connection has none; "time" is the event's time (at) in unix
// milliseconds. Strings are escaped by httpcodec.AppendJSONString (control bytes, quotes,
// U+2028/U+2029; invalid UTF-8 becomes U+FFFD), so a line never holds a raw newline. User info
// in the URL is sent as Basic auth. Any 2xx accepts the whole POST; its body is not read past
// 64 KiB and means nothing.
//
// # Order and delivery
//
// Events are POSTed in the order they were queued (for events from several goroutines, the
// order in which they took the lock), one POST at a time. A batch that failed is retried as it
// was, the same lines and no others, before any later event goes out. Delivery is at least
// once: a POST the hook took but whose answer was lost (a timeout, a reset) is sent again, so
// a hook should treat a repeated line as harmless. A connection broken before any answer byte
// (the hook closed an idle kept-alive connection as we reused it) is retried once at once,
// without counting as a failure.
//
// # Batching
//
// A POST carries at most MaxBatch events (default 1000). It starts at once when MaxBatch
// events are queued, otherwise Interval (default 100ms) after the oldest queued event's at (at
// once if at lies that far in the past), and while closing at once. The sender waits on a
// channel, or on one timer while something is queued: an idle Sender costs nothing.
//
// # Failures and backoff
//
// A non-2xx answer, no full answer within Timeout (default 5s), or a failed dial, TLS
// handshake or transport is a failed attempt: counted in Failed, logged at Warn with the URL
// (password hidden) and the cause, then retried after a backoff of 100ms doubling to 5s, each
// wait drawn from [step/2, step). So there is one log line per backoff step, at most one every
// 2.5 s in a long outage, and one Info line when POSTs are accepted again, which also resets
// the backoff. Meanwhile events keep queueing.
//
// # Bounds and memory
//
// The queue holds at most Queue events (default 65536), those of the POST in flight included;
// past it Connect and Disconnect drop the event and count it. The queue is encoded bytes, not
// a struct per event: callers append their line under the one lock into a buffer; the sender
// swaps that buffer for a spare one and copies its lines behind its own, so the two callers'
// buffers are reused and callers never wait for a copy or for the network. Memory is bounded
// by Queue lines (about 120 bytes each with a 16-byte key and short ids; user and node ids are
// not truncated): three buffers of about that size at worst, and one grown past 1 MiB is let go once
// the queue drains. Connect allocates nothing once its buffer has grown to the traffic
// (TestConnectAllocs, BenchmarkConnect).
//
// # Stats and Close
//
// Every event offered is, at every moment, exactly one of Sent (the hook answered 2xx),
// Dropped (queue full, offered after Close, or given up by Close) or Queued (waiting, or in the
// POST in flight); Stats reads the three under the lock, so they always add up. Failed counts
// attempts, not events. Close stops taking events and sends everything queued without waiting
// for Interval (a failing hook still gets its backoff). If ctx ends first it cuts the POST in
// flight (the connection is tied to an internal context, so even a hook that never answers
// does not hold Close up), counts whatever is still held as Dropped, and returns ctx.Err();
// the sender goroutine has ended when Close returns.
//
// # Locks
//
// Sender.mu is the package's only lock, never held across I/O, a channel operation or a
// sleep; the sender goroutine's queue and HTTP state are its own and take no lock.
//
// # Benchmarks (2-core VM shared with other work; ranges over 6 runs)
//
//	go test -run '^$' -bench . -benchtime 2s -count 3 ./hooks
//	  Enqueue (callers' path alone: lock, encode, append; nothing dropped)   60–65 ns/op, 0 B/op, 0 allocs/op
//	  Connect (one caller beside a running sender and a local hook)        255–395 ns/op, 0 allocs/op, 0.003–0.32 dropped/op
//	  ConnectParallel (2 callers at once)                                   75–227 ns/op, 0 allocs/op, 0.03–0.82 dropped/op
//
// The last two offer events tens of millions of times a second, far past any connect storm, so
// the queue fills and part of them are dropped (dropped/op; a drop costs less than a queued
// event). Their time includes the sender and hook goroutines sharing the two cores with the
// callers, and their B/op (about 100–580) is what the sender's POSTs and the test hook's
// net/http server allocate per batch, spread over the events: fewer than one allocation per
// event, so allocs/op reads 0. Connect itself allocates nothing (Enqueue, TestConnectAllocs).
package hooks
