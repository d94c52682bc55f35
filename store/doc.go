// Package store keeps what outlives a delivery:
//
//   - each user's QoS 1 mailbox (SPEC §5): messages kept until acknowledged
//     or expired, behind one interface (Mailbox) with two implementations,
//     Memory (standalone: bounded, in this process) and Redis (a cluster:
//     every node reads the same mailbox), chosen once when the node starts;
//   - the recent messages of names (Recent): a topic's history for
//     subscribers that resume with since/Last-Event-ID (--topic-history),
//     and a long-poll client's buffer between two polls (--poll-buffer).
//
// The stores keep the edge's pooled, reference-counted messages by
// reference (Message), so keeping a message copies nothing; what Redis reads
// back is made into one by the function the edge gives NewRedis.
//
// It imports push (the message fields), conntable (the name groups) and
// cluster (the shared Redis connection); never the edge.
//
// Locks: Memory.mu and Recent.mu each guard their own store; neither is held
// while the other is taken, and each guarded section calls only atomics and
// Message.Retain/Release (which may return a message to its pool).
package store
