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
// # Targets
//
// pushwire (../SPEC.md), and for comparison nginx+Nchan and Centrifugo v6
// (../shared/peers/nchan and ../shared/peers/centrifugo: uni_sse subscribers, whose
// subscription counts only once Centrifugo's connect reply lists it; one POST /api/publish
// JSON command per message with X-API-Key; a 200 whose body holds "error" counts as a
// failed publish), and the floor.
//
// # The floor
//
// The floor (floor.go; "pushbench floor-server --listen ADDR" in its own process, so the
// suite pins it with taskset like the others) is the least work a push server can do per
// delivery on this machine, so no server can beat its throughput or its CPU per delivery.
// What it does, all on one goroutine in one epoll loop (golang.org/x/sys/unix,
// level-triggered, TCP_NODELAY on every accepted socket; read, write and a first
// non-blocking epoll_wait through RawSyscall, as pushwire's engine does):
//
//   - It reads each request into one shared 64 KiB buffer and finds its end: the blank
//     line, then Content-Length body bytes. That is the only parsing: the method's first
//     four bytes ("GET " or not) and the decimal digits that end the request target.
//   - A GET makes the connection a subscriber: one write of a pre-encoded stream head
//     (200, text/event-stream, no chunking: the body runs until close). The subscriber
//     joins the broadcast set (an array of fds) and, when its path ends in a number n
//     (pushbench's ids end in the subscriber's index), slot n of an index array.
//   - Any other request is a publish. Its body is copied once between the pre-encoded
//     "data: " and "\n\n" into one reusable frame buffer (pushbench needs its stamp in
//     every delivery to count and time it), and that frame goes by one write(2) to the
//     subscriber in slot n when the path ends in n (unicast), else to every subscriber
//     (broadcast). The publisher gets the fixed answer "200, Content-Length: 0"; the
//     answers to all complete requests of one read go out in one write (pipelining).
//
// What it does not do: parse any other header, the method or the path beyond the above;
// encode JSON, chunk, or frame anything but "data: <body>\n\n"; keep a table of
// connections, users or topics (only the fd arrays); queue or buffer output (a frame a
// full socket buffer will not take is dropped, a short write leaves it cut, and a
// publisher that does not read its answers is disconnected); heartbeats, timeouts,
// limits beyond a 64 KiB request and index 4,194,303, auth, TLS, HTTP/2, cluster, QoS.
// Bad input (a chunked or oversized body, a malformed Content-Length) gets a 400 and
// the connection closed. For pushwire-only scenarios the suite puts the floor's
// broadcast run (one write per delivery with no request at all per message) beside
// batch and coalesced publishing, and its unicast run beside cluster.
//
// # Tests
//
// integration_test.go and floor_test.go run in CI (./test.sh). The Centrifugo end-to-end
// test is behind the "peers" build tag, because a fresh machine spends ~3 minutes
// building Centrifugo: go test -tags peers -count=1 -run TestCentrifugoEndToEnd ./perf/
// (it builds Centrifugo through start.sh and fails, not skips, when it cannot).
//
// Files: target.go (pushwire, Nchan, Centrifugo and floor URL shapes), floor.go, stream.go and frames.go (parsers),
// stamp.go (payload stamps), worker.go, wire.go and subscribers.go (worker processes),
// publishers.go and rawpipe.go, hist.go, procstat.go, result.go, idle.go, unicast.go
// (also cluster), broadcast.go, compare.go, report.go, plot.go, servers.go (starting
// pushwire, Nchan, Centrifugo, the floor, Redis), suite.go, suitetable.go, suiteinfo.go and
// benchmarksmd.go (pushbench suite), reconnect.go (workers that reopen ended streams as
// EventSource does), netns.go (network namespaces on a bridge: Hosts).
//
// Commands beside pushbench: perf/chaos (QoS 1 under random faults), perf/tlshold, and
// perf/cluster5 (five nodes in network namespaces, 95,000 subscribers, the kill -9 reconnect
// storm; its TestSmallCluster runs in CI at 5 × 300).
package perf
