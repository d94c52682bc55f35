package mesh

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
	"github.com/pushwire/pushwire/subscribe"
)

// QoS 1 in a cluster (SPEC §5): messages for a user are kept in Redis, so a
// user who reconnects to any node gets them, and a node's death loses none.
// Every Redis call runs on the router; loops only hand work over.

// ReplayBatch is the stored messages of a user, in id order, handed to the
// loop of the connection that asked for them (OpReplay).
type ReplayBatch struct {
	msgs     []*edge.Message
	since    uint64 // the client's resume cursor (hasSince): stored ids up to it may be resends
	hasSince bool
	resync   bool   // a re-sync or repeated replay of a live stream, not its start (resync.go)
	lost     uint64 // the user's lost mark: a resume from before it starts with the gap frame (subscribe/gap.go)
	gapped   bool   // the stream got the gap frame as it started (a topic's): not again
}

// replayStored asks the router for user's stored messages for connection
// h: it acknowledges what the client resumed from (since: the stored ids up
// to it that this node sent to the user's connections), makes sure the
// user's registration is written (so that a publisher who missed it stored
// its message before this read: issue 9), then hands the rest to h's loop —
// always, an empty batch when there is nothing or Redis failed, since a
// stream holds its live messages until then (holdLive). It reports false
// when the router could not take the job.
func (cn *clusterNode) replayStored(h engine.Handle, user []byte, since uint64, hasSince, gapped bool) bool {
	name := string(user)
	var acks []uint64
	if hasSince {
		acks = cn.s.Sent.UpTo(nil, user, since)
	}
	job := func() {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		// An error means Redis is unreachable or the directory re-syncs: the
		// re-sync that follows replays this stream again (resync.go).
		_ = cn.Dir.Flush(ctx)
		cancel()
		cn.replayNow(h, name, acks, ReplayBatch{since: since, hasSince: hasSince, gapped: gapped})
	}
	if !cn.submit(job) {
		cn.s.Log.Warn("QoS 1 store: router saturated, no replay for a new connection", "user", name)
		return false
	}
	return true
}

// replayAgain asks for another replay of h's user once the one in flight
// is written (a re-sync came meanwhile); h keeps holding until then.
func (cn *clusterNode) replayAgain(h engine.Handle, user []byte) bool {
	name := string(user)
	return cn.submit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		_ = cn.Dir.Flush(ctx)
		cancel()
		cn.replayNow(h, name, nil, ReplayBatch{resync: true})
	})
}

// replay writes a replay batch on the connection's loop, in order, then the
// live messages a stream held meanwhile, except those the batch already
// wrote: the stored messages come first and none twice. (Held messages are
// matched by id against the batch, not against the cursor: a topic message
// published just before a stored one must not be taken for written.) A
// stored message this stream was already sent is not written again; one the
// client may have had from another connection is written flagged as a
// resend (see resent).
func (ls *MeshLoop) ReplayBatch(l *engine.Loop, h engine.Handle, b *ReplayBatch) {
	// Part of the answer to h's subscribe, however many stored messages.
	l.Answer(h, func() { ls.writeReplay(l, h, b) })
}

func (ls *MeshLoop) writeReplay(l *engine.Loop, h engine.Handle, b *ReplayBatch) {
	sub := conntable.Sub(h) // an HTTP/1.x connection's subscriber, or an HTTP/2 stream's
	c, conn := ls.SubscriberOf(sub)
	stream := c != nil && c.Mode == edge.ModeStream
	if stream && !b.resync {
		ls.writeStoredGap(l, sub, c, conn, b)
	}
	var sent []store.SentEntry
	if stream && len(b.msgs) > 0 {
		if user, ok := push.UserOf(b.msgs[0].To); ok {
			sent = ls.s.Sent.AppendEntries(ls.SentScratch[:0], user)
		}
	}
	for _, m := range b.msgs {
		if stream {
			toH, toAny := store.SentTo(sent, conntable.Sub(h), m.Seq)
			if !toH {
				ls.StoredTo(l, sub, c, conn, m, subscribe.Resent(toAny, b.hasSince, b.since, m.Seq))
			}
			if b.resync {
				// A live copy may still be on its way: deliver checks ids up
				// to here against what the stream was sent. (The cursor is
				// not raised: live messages older than a re-sync's newest
				// stored one are not taken for written.)
				ls.ResyncMax = max(ls.ResyncMax, m.Seq)
			} else {
				c.Cursor = max(c.Cursor, m.Seq)
			}
		}
		l.Defer(m)
	}
	clear(sent)
	ls.SentScratch = sent[:0]
	if c != nil && c.Mode == edge.ModePoll {
		ls.Lost = b.lost // the answer's gap packet, as appendNow's mark in memory (subscribe/poll.go)
		ls.PollAnswer(l, sub, c, b.msgs, false)
		ls.Lost = 0
	}
	if stream && ls.Again[h] {
		// A re-sync began while this batch was read: read once more, still holding.
		delete(ls.Again, h)
		if ls.s.Cluster.replayAgain(h, ls.SubUser(c)) {
			return
		}
	}
	if stream {
		for _, m := range ls.Held[h] {
			if !inBatch(b.msgs, m.Seq) {
				ls.MessageTo(l, sub, c, conn, m)
			}
		}
	}
	ls.DropHeld(l, h)
}

// inBatch reports whether msgs, in id order, holds id.
func inBatch(msgs []*edge.Message, id uint64) bool {
	_, found := slices.BinarySearchFunc(msgs, id, func(m *edge.Message, id uint64) int { return cmp.Compare(m.Seq, id) })
	return found
}

// ackStored removes ids (stored messages sent to the user's connections,
// up to the acked id) on the router and answers the /ack request on the
// caller's loop.
func (cn *clusterNode) ackStored(call *AsyncCall, user []byte, ids []uint64) {
	name := string(user)
	job := func() {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		defer cancel()
		removed, err := cn.s.Store.Box.AckIDs(ctx, nil, publish.ViewBytes(name), ids)
		if err != nil {
			call.Reply = httpcodec.AppendErrorResponse(nil, 503, "QoS 1 store unavailable: "+err.Error(), call.KeepAlive)
		} else {
			// Only what was removed: an id not stored yet (its Put still on
			// the way) stays for the next ack.
			slices.Sort(removed)
			cn.s.Sent.Forget(publish.ViewBytes(name), ids, removed, time.Now().UnixMilli())
			call.Reply = httpcodec.AppendJSONResponse(nil, 200, call.KeepAlive, appendAcked(nil, len(removed)))
		}
		cn.s.Eng.Submit(call.From.Loop(), engine.Task{H: call.From, Op: OpAsyncReply, V: call})
	}
	if !cn.submit(job) {
		call.Reply = httpcodec.AppendErrorResponse(nil, 503, "cluster router saturated; retry", call.KeepAlive)
		cn.s.Eng.Submit(call.From.Loop(), engine.Task{H: call.From, Op: OpAsyncReply, V: call})
	}
}

func appendAcked(dst []byte, n int) []byte {
	dst = strconv.AppendInt(append(dst, `{"acked":`...), int64(n), 10)
	return append(dst, '}')
}

// writeStoredGap writes the gap frame before a stream's stored messages read
// from Redis (qoscluster.go) when the user's mailbox lost a message newer
// than the stream's cursor, unless the stream got it as it started (a
// topic's gap): one gap frame says it all.
func (ls *MeshLoop) writeStoredGap(l *engine.Loop, sub conntable.Sub, c *edge.SubState, conn engine.Handle, b *ReplayBatch) {
	if b.hasSince && !b.gapped && b.lost > b.since {
		ls.WriteGap(l, sub, c, conn, b.since, l.Now().UnixMilli())
	}
}
