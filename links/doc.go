// Package links carries pushes and queries between pushwire nodes: Links (one persistent,
// pipelined TCP link per pair of nodes that talk, dialled on first use) and LinkServer (the
// other end), with the frames they exchange. Where a node listens comes from the directory
// (package cluster): Links asks it NodeAddr before every dial, and nothing else.
//
// # API
//
//	NewLinks(self string, dir NodeAddrs, LinkOptions) *Links    // links.go, link.go (a cluster.Directory is a NodeAddrs)
//	(*Links).ForwardBatch(ctx, nodeID, []*Push) ([]Result, error)
//	(*Links).Query(ctx, nodeID, *Query) (QueryAnswer, error)   // presence counts (query.go), changes (subquery.go)
//	(*Links).Close() error; (*Links).Stats() LinkStats
//	NewLinkServer(Handler, LinkServerOptions) *LinkServer      // linkserver.go
//	(*LinkServer).Serve(net.Listener) error; (*LinkServer).Close() error
//	(*LinkServer).HandOver(wait) bool                          // a binary upgrade's gentle end (linkhandover.go)
//	type Handler func(p *Push) Result
//	type QueryHandler func(q *Query) QueryAnswer               // LinkServerOptions.Query
//	type Observer interface { LinkRoundTrip, LinkQueued }      // /metrics (observe.go)
//
// A node that took a publish looks the target up in the directory (UserNodes/TopicNodes, or
// Nodes for "all"; a conn key names the node that holds it, and NodeAddr says whether that
// node lives), delivers locally itself, and ForwardBatches to every other node; it sums
// Result.Delivered and counts the nodes that answered for the §4 answer (package route). A
// ForwardBatch error means the outcome on that node is unknown: the answer names the node in
// "unreachable", and is 503 when nothing was delivered or stored anywhere. ErrNodeGone (the
// peer's port refused, or the connection was reset) means no process is there: the node holds
// nothing, and is no failure. A node whose heartbeat is gone answers cluster.ErrUnknownNode;
// Links and LinkServer answer cluster.ErrClosed after Close.
//
// # Wire format and behaviour
//
// See frame.go. Requests carry consecutive correlation ids; the server runs its handler
// sequentially per link and answers in order, so answers are matched to the head of a FIFO and
// their ids checked. One writer goroutine per peer takes the whole queued buffer per write, so
// concurrent pushes coalesce (~260 pushes per write under load). Back-pressure: a link queues
// at most QueueBytes encoded bytes and MaxInFlight unanswered requests; a sender past either
// waits up to QueueWait, then gets ErrBackpressure. A broken link fails every queued and
// in-flight request with ErrLinkDown and redials at once; failed dials back off (50ms doubling
// to 2s, jittered), and during the backoff ForwardBatch fails at once. A refused dial or a reset
// connection marks the peer gone: ForwardBatch fails at once with ErrNodeGone, redials included,
// until a dial works again (the dial asks NodeAddr first, so the heartbeat must be back too).
// A peer whose heartbeat is gone gets cluster.ErrUnknownNode and its link is dropped.
//
// # Locks
//
// Links.mu, link.mu, LinkServer.mu: each guards its own fields, none is held across I/O, and
// none is held while another is taken (Links.Close and link.run release one before taking the
// other), so there is no lock order to keep.
//
// # Benchmarks (2-core VM shared with other work; ranges over 3 runs)
//
//	go test -run '^$' -bench 'LinkNetConn|LinkNetpoll|LinkRaw|LinkForwardParallel' -benchtime 1000000x -count 3 ./links
//	  one link, 64-byte payloads, every push answered (msgs/s metric):
//	  LinkNetConn (Links → LinkServer, net.Conn + own buffers, ForwardBatch 256 ×4)  3.1–9.9 M msgs/s, ~270 msgs/write
//	  LinkNetpollServer (same client, server on cloudwego/netpoll)                    6.0–8.3 M msgs/s
//	  LinkRaw/netconn (bare frames both ways, net.Conn)                              12.0–13.7 M msgs/s
//	  LinkRaw/netpoll (bare frames both ways, netpoll)                                7.2–10.4 M msgs/s
//	  LinkForwardParallel (single pushes from 64 goroutines)                        ~0.75 M msgs/s, ~3.4 msgs/write
//
// net.Conn with our own buffers was chosen: on the bare transport it beats netpoll, with the full
// stack the two are within noise of each other, and it needs no second poller beside engine/.
package links
