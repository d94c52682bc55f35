package cluster

import (
	"context"
	"errors"

	"github.com/pushwire/pushwire/cluster/redisconn"
)

// Node is one pushwire process as the directory knows it.
type Node struct {
	ID   string // --node-id
	Addr string // --advertise host:port, dialled by peers for the link
}

// Directory maps users and topics to the nodes that hold them, and node ids to link addresses
// (a conn key names its node itself, so conn keys are not in it). Two implementations: MemDirectory (standalone, or nodes of one process
// sharing a MemStore; no Redis) and RedisDirectory.
//
// Writes (Add*/Remove*) never block on the network: they update the directory's local mirror of
// this node's entries and are sent later in pipelined batches. The caller ref-counts users and
// topics per node: AddUser on its count's 0→1, RemoveUser on 1→0 (same for topics).
//
// Reads return ErrUnknownNode for a node that is absent or whose heartbeat expired, and an error wrapping ErrDirectoryDown when the directory
// cannot answer; UserNodes/TopicNodes return an empty list (nil error) when no live node has them.
type Directory interface {
	// Start registers this node (heartbeat with TTL = node TTL) and starts the background
	// writer. An error says the first registration failed; the directory keeps retrying in the
	// background until Close.
	Start(ctx context.Context) error
	// Close stops the heartbeat and writer and removes this node's entries (best effort).
	Close() error
	// Flush waits until every change made before the call has been written (or failed).
	Flush(ctx context.Context) error

	NodeAddr(ctx context.Context, nodeID string) (string, error)
	Nodes(ctx context.Context) ([]Node, error)

	AddUser(user string)
	RemoveUser(user string)
	AddTopic(topic string)
	RemoveTopic(topic string)

	UserNodes(ctx context.Context, user string) ([]string, error)
	TopicNodes(ctx context.Context, topic string) ([]string, error)

	Stats() DirStats
}

// DirStats counts directory traffic since start. All counters only grow.
type DirStats struct {
	RoundTrips  uint64 // requests that reached Redis; one pipeline counts once
	CacheHits   uint64 // reads answered from the client-side cache
	CacheMisses uint64 // cacheable reads that had to ask Redis
	Commands    uint64 // write commands sent in batches
	Errors      uint64 // failed requests (timeouts, Redis down)
	Resyncs     uint64 // full re-assertions of this node's entries after Redis came back
	Rechecks    uint64 // re-sync hooks run without re-asserting entries (Recheck)
}

var (
	// ErrUnknownNode means the node id is not registered or its heartbeat expired.
	ErrUnknownNode = errors.New("cluster: unknown node")
	// ErrDirectoryDown means the directory store (Redis) cannot be reached; the error returned
	// wraps it together with the cause. It is redisconn.ErrDown, which the shared Redis client
	// (redisconn.Conn) answers too.
	ErrDirectoryDown = redisconn.ErrDown
	// ErrClosed means the Directory was closed; Links and LinkServer (package links) answer it
	// too after Close, and so does a closed redisconn.Conn (it is redisconn.ErrClosed).
	ErrClosed = redisconn.ErrClosed
)

// Observer receives the Redis timings of the directory and of redisconn.Conn, for a node's
// /metrics (see redisconn.Observer).
type Observer = redisconn.Observer
