// Package handoff is the wire protocol of a zero-downtime upgrade (SPEC §11): the running
// process (the old one) hands its listening sockets and every held connection, with each
// connection's state, to the process that replaces it (the new one) over a unix
// SOCK_SEQPACKET socket. It knows nothing of the server: records carry bytes and small
// integers whose meaning the caller gives them.
//
// One handoff, every packet at most MaxPacket bytes, its first byte the packet type:
//
//	new → old  started the new process is up (the old one serves until then)
//	old → new  hello   protocol version, node id, message-id counter, version, multipart boundary,
//	                   upgrades so far
//	old → new  data    a run of the record stream (records may span packets)
//	old → new  fds     up to MaxFDsPerPacket descriptors (SCM_RIGHTS), in record order
//	old → new  end     how many listener, connection and other records were sent
//	new → old  ready   everything was taken; the new process waits for go
//	old → new  go      the old process lets go: the new one serves from here
//	either     abort   a reason; the other side undoes what it did
//
// The record stream is a sequence of records, each `u32 length | u8 version | u8 kind | body`
// (little-endian): listeners and connections, each owning the next descriptor in order, and
// the QoS 1 state of a standalone node (stored messages, sent entries) and an HTTP/2
// connection's codec state and streams (after its connection's record), which own none. Every length is bounded
// (Limits below), so a corrupt or hostile stream is an error, never a large allocation.
//
// The descriptors passed are duplicates: the old process keeps its own until it has read
// ready and sent go, so an abort, a timeout or a crash of the new process leaves it holding
// everything it held before, and it carries on.
package handoff
