package mesh

import (
	"context"
	"time"

	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// qosMailbox is this node's QoS 1 mailbox (SPEC §5): the store that keeps
// each user's messages until they are acknowledged or expire, and the way
// the loops reach it. Both are chosen once, as the node starts:
//
//   - standalone, and nodes that share an in-process directory (tests):
//     store.Memory, called on the loops, at once. A publish stores before it
//     delivers; a new stream or long-poll reads what is stored as it starts;
//     an ack is answered on the loop.
//   - --redis: store.Redis, every call a Redis round trip, made on the
//     router (qoscluster.go): the publish's routing job stores before it
//     forwards; a new stream holds its live messages until the router has
//     read the store and handed the batch to its loop (OpReplay, holdLive);
//     an ack is answered from the router.
//
// Callers say what happens (keep, resume, appendNow, fetch, ack) and the
// mailbox does what its store needs then, so no caller asks which it is.
type qosMailbox struct {
	s      *Mesh
	Box    store.Mailbox[*edge.Message]
	routed bool // every call waits on Redis: made on the router, never on a loop
}

func NewMemoryMailbox(s *Mesh) *qosMailbox {
	return &qosMailbox{s: s, Box: store.NewMemory[*edge.Message](s.Cfg.StoreMessages, s.Cfg.StoreBytes)}
}

// useRedis keeps the messages in Redis, through conn (startRedisCluster,
// before the loops start).
func (q *qosMailbox) useRedis(conn *redisconn.Conn) {
	q.Box, q.routed = store.NewRedis(conn, "", q.s.Cfg.StoreMessages, messageFromStore), true
}

// messageFromStore is a message read back from Redis, in a pooled message
// of its own (the fields it is given are views into Redis's answer).
func messageFromStore(p *push.Message) *edge.Message {
	m := edge.NewMessage(p.Seq, time.Now().UnixMilli())
	m.SetPayload(p.To, p.Event, p.ContentType, p.Data, p.JSON, 1)
	m.Expiry = p.Expiry
	return m
}

// Keep runs on the publishing loop for a QoS 1 user push, before the push is
// delivered. In memory it stores m at once (stored; an error makes the
// publish a 503); in Redis it leaves m to the push's routing job, which
// stores it (put) before it forwards (route).
func (q *qosMailbox) Keep(user []byte, m *edge.Message, nowMs int64) (stored, route bool, err error) {
	if q.routed {
		return false, true, nil
	}
	if err := q.Box.Put(context.Background(), user, m, nowMs); err != nil {
		return false, false, err
	}
	return true, false, nil
}

// put stores the QoS 1 user message m; it runs on the router (a routing
// job's item that keep left to it).
func (q *qosMailbox) put(ctx context.Context, m *edge.Message) error {
	user, _ := push.UserOf(m.To)
	return q.Box.Put(ctx, user, m, time.Now().UnixMilli())
}

// Resume settles, as a stream or long-poll of user starts from since, the
// ack that since is: the stored ids up to it that this node sent to the
// user's connections (store/sentlog.go). In memory it is done here; in Redis
// fetch does it on the router, before it reads.
func (q *qosMailbox) Resume(user []byte, since uint64, nowMs int64) {
	if q.routed {
		return
	}
	acks := q.s.Sent.UpTo(nil, user, since)
	_, _ = q.Box.AckIDs(context.Background(), nil, user, acks) // in memory: cannot fail
	q.s.Sent.Forget(user, acks, acks, nowMs)                   // stored before it was written
}

// AppendNow appends the user's stored messages that can be written at once,
// each with a reference the caller releases, and the user's lost mark (the
// newest id that expired unacknowledged: store/lost.go): in memory all of
// them, in Redis none (fetch hands them over later, with the mark).
func (q *qosMailbox) AppendNow(dst []*edge.Message, user []byte, nowMs int64) ([]*edge.Message, uint64) {
	if q.routed {
		return dst, 0
	}
	dst, lost, _ := q.Box.AppendPending(context.Background(), dst, user, nowMs) // in memory: cannot fail
	return dst, lost
}

// Fetch asks, in Redis, for the user's stored messages to be handed to h's
// loop (OpReplay) once the router has settled since and read them; it
// reports whether they will come, so that a stream holds its live messages
// until then (holdLive). In memory there is nothing to fetch: appendNow
// returned them.
// gapped says the stream already got the gap frame (a topic's), so the
// stored messages' gap is not signalled twice.
func (q *qosMailbox) Fetch(h engine.Handle, user []byte, since uint64, hasSince, gapped bool) bool {
	if !q.routed {
		return false
	}
	return q.s.Cluster.replayStored(h, user, since, hasSince, gapped)
}

// ack answers POST /ack on the loop of the connection acked for: it removes
// the user's stored messages up to call.upTo that this node sent to the
// user's connections. In memory it returns the answer's body; in Redis the
// router answers the caller (later).
func (q *qosMailbox) ack(call *AsyncCall, user []byte, nowMs int64) (body []byte, later bool) {
	ids := q.s.Sent.UpTo(nil, user, call.UpTo)
	if q.routed {
		q.s.Cluster.ackStored(call, user, ids)
		return nil, true
	}
	removed, _ := q.Box.AckIDs(context.Background(), nil, user, ids) // in memory: cannot fail
	q.s.Sent.Forget(user, ids, ids, nowMs)                           // stored before it was written
	return appendAcked(nil, len(removed)), false
}

// Counts reports the users with messages kept in memory and their bytes
// (/stats); Redis keeps its own count.
func (q *qosMailbox) Counts() (users, bytes int) {
	if m, ok := q.Box.(*store.Memory[*edge.Message]); ok {
		return m.Counts()
	}
	return 0, 0
}
