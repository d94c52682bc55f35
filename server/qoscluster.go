package server

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/engine"
)

// QoS 1 in a cluster (SPEC §5): messages for a user are kept in Redis, so a
// user who reconnects to any node gets them, and a node's death loses none.
// Every Redis call runs on the router; loops only hand work over.

// storeQoS keeps a QoS 1 user message in Redis. It runs on the router.
func (cn *clusterNode) storeQoS(ctx context.Context, m *message) error {
	user := string(m.to[len("user:"):])
	err := cn.qos.Put(ctx, user, &cluster.StoredMessage{
		ID: m.seq, ExpiresAt: m.expiry, To: string(m.to), Event: string(m.event),
		ContentType: string(m.ctype), JSON: m.json, Data: m.data,
	}, cn.s.cfg.StoreMessages)
	if errors.Is(err, cluster.ErrStoreFull) {
		return errStoreUserFull
	}
	return err
}

// replayBatch is the stored messages of a user, in id order, handed to the
// loop of the connection that asked for them (opReplay).
type replayBatch struct {
	msgs []*message
}

// replayStored asks the router for user's stored messages for connection
// h: it first acknowledges up to since when the client resumed from an id,
// then hands the rest to h's loop — always, an empty batch when there is
// nothing or Redis failed, since a stream holds its live messages until then
// (holdLive). It reports false when the router could not take the job.
func (cn *clusterNode) replayStored(h engine.Handle, user []byte, since uint64, hasSince bool) bool {
	name := string(user)
	job := func() {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		defer cancel()
		if hasSince {
			if _, err := cn.qos.Ack(ctx, name, since); err != nil {
				cn.s.log.Warn("QoS 1 store: implicit ack failed", "user", name, "err", err)
			}
		}
		stored, err := cn.qos.Pending(ctx, name, time.Now().UnixMilli())
		if err != nil {
			cn.s.log.Warn("QoS 1 store: no replay for a new connection", "user", name, "err", err)
			stored = nil
		}
		batch := &replayBatch{msgs: make([]*message, len(stored))}
		for i := range stored {
			batch.msgs[i] = storedMessage(&stored[i])
		}
		cn.s.eng.Submit(h.Loop(), engine.Task{H: h, Op: opReplay, V: batch})
	}
	if !cn.submit(job) {
		cn.s.log.Warn("QoS 1 store: router saturated, no replay for a new connection", "user", name)
		return false
	}
	return true
}

func storedMessage(sm *cluster.StoredMessage) *message {
	m := newMessage(sm.ID, time.Now().UnixMilli())
	m.setPayload(viewBytes(sm.To), viewBytes(sm.Event), viewBytes(sm.ContentType), sm.Data, sm.JSON, 1)
	m.expiry = sm.ExpiresAt
	return m
}

// replay writes a replay batch on the connection's loop, in order, then the
// live messages a stream held meanwhile, except those the batch already
// wrote: the stored messages come first and none twice. (Held messages are
// matched by id against the batch, not against the cursor: a topic message
// published just before a stored one must not be taken for written.)
func (ls *loopState) replayBatch(l *engine.Loop, h engine.Handle, b *replayBatch) {
	// Part of the answer to h's subscribe, however many stored messages.
	l.Answer(h, func() { ls.writeReplay(l, h, b) })
}

func (ls *loopState) writeReplay(l *engine.Loop, h engine.Handle, b *replayBatch) {
	c := ls.live(h)
	for _, m := range b.msgs {
		if c != nil && c.mode == modeStream {
			ls.writeMessage(l, h, c, m)
			c.cursor = max(c.cursor, m.seq)
		}
		l.Defer(m)
	}
	if c != nil && c.mode == modePoll {
		ls.answerPoll(l, h, c, b.msgs, false)
	}
	if c != nil && c.mode == modeStream {
		for _, m := range ls.held[h] {
			if !inBatch(b.msgs, m.seq) {
				ls.writeMessage(l, h, c, m)
			}
		}
	}
	ls.dropHeld(l, h)
}

// inBatch reports whether msgs, in id order, holds id.
func inBatch(msgs []*message, id uint64) bool {
	_, found := slices.BinarySearchFunc(msgs, id, func(m *message, id uint64) int { return cmpSeq(m.seq, id) })
	return found
}

// holdLive keeps a live message for a stream whose stored messages are still
// being fetched, so that it is written after them (SPEC §5: unacknowledged
// messages are resent in order); false when h is not waiting for a replay.
// Only streams in that short window have an entry in ls.held (nil until a
// message comes), so this costs the others one len check.
func (ls *loopState) holdLive(m *message, h engine.Handle) bool {
	held, waiting := ls.held[h]
	if !waiting {
		return false
	}
	m.retain(1)
	ls.held[h] = append(held, m)
	return true
}

// dropHeld releases what h held (after its loop's flush: writes refer to them).
func (ls *loopState) dropHeld(l *engine.Loop, h engine.Handle) {
	held, ok := ls.held[h]
	if !ok {
		return
	}
	for _, m := range held {
		l.Defer(m)
	}
	delete(ls.held, h)
}

// ackStored acknowledges up to upTo for user on the router and answers the
// /ack request on the caller's loop.
func (cn *clusterNode) ackStored(call *asyncCall, user []byte) {
	name := string(user)
	job := func() {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		defer cancel()
		n, err := cn.qos.Ack(ctx, name, call.upTo)
		if err != nil {
			call.reply = appendErrorResponse(nil, 503, "QoS 1 store unavailable: "+err.Error(), call.keepAlive)
		} else {
			body := strconv.AppendInt([]byte(`{"acked":`), int64(n), 10)
			call.reply = appendJSONResponse(nil, 200, call.keepAlive, append(body, '}'))
		}
		cn.s.eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: opAsyncReply, V: call})
	}
	if !cn.submit(job) {
		call.reply = appendErrorResponse(nil, 503, "cluster router saturated; retry", call.keepAlive)
		cn.s.eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: opAsyncReply, V: call})
	}
}
