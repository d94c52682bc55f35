// Package perf holds pushbench's scenarios and the pieces they share.
//
// A run has three sides. Subscribers live in worker processes ("pushbench worker", or
// in-process for tests), each one epoll loop holding up to ~15,000 sockets with no
// goroutine or buffer per connection; their Streams parse the response head, chunked
// encoding and ndjson/sse/chunk frames incrementally and stamp each message's receipt
// on CLOCK_MONOTONIC. Publishers (fasthttp keep-alive, fasthttp or raw pipelining,
// pushwire batch) stamp the payload with the same clock just before sending, so
// publish→receipt latency needs no clock sync between processes. The parent samples the
// server's /proc RSS and CPU around each phase, merges the workers' HDR histograms and
// per-publish receipt times, and reports JSON, Markdown and a CDF plot.
//
// Files: target.go (pushwire and Nchan URL shapes), stream.go and frames.go (parsers),
// stamp.go (payload stamps), worker.go, wire.go and subscribers.go (worker processes),
// publishers.go and rawpipe.go, hist.go, procstat.go, result.go, idle.go, unicast.go
// (also cluster), broadcast.go, compare.go, report.go, plot.go, servers.go (starting
// pushwire, Nchan, Redis), suite.go, suiteinfo.go and benchmarksmd.go (pushbench suite).
package perf
