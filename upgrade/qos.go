package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/store"
)

// The QoS 1 state a standalone node keeps in memory (store.Memory through mailbox.go, store.SentLog) goes with an
// upgrade: every message answered "stored" and not acknowledged, and which of them were
// written to which connection (the handles stay valid in the new process), so that acks sent
// to the new process remove what the old one delivered. In a cluster the messages are in Redis;
// the sent entries go too. So do a standalone node's Idempotency-Keys (kept in memory, in
// Redis for a cluster): a publisher's retry after the upgrade is still a duplicate.

// exportQoS adds the stored messages and sent entries to snd. It runs after the quiesce, when
// no loop reads a request any more, so neither changes meanwhile.
func (u *Upgrader) exportQoS(snd *handoff.Sender) error {
	var recs []handoff.Record
	if mem, ok := u.Store.Box.(*store.Memory[*edge.Message]); ok { // in Redis they stay there
		mem.Each(func(user string, m *edge.Message) {
			recs = append(recs, handoff.Record{Kind: handoff.KindStored, Stored: handoff.Stored{
				User: []byte(user), Seq: m.Seq, TimeMs: m.TimeMs, Expiry: m.Expiry, QoS: m.QoS, JSON: m.JSON,
				To: m.To, Event: m.Event, ContentType: m.ContentType, Data: m.Data}})
		})
	}
	u.Sent.Export(func(user string, entries []store.SentEntry) {
		r := handoff.Record{Kind: handoff.KindSent, Sent: handoff.Sent{User: []byte(user)}}
		for _, e := range entries {
			r.Sent.Entries = append(r.Sent.Entries, handoff.SentEntry{ID: e.ID, Expiry: e.Expiry,
				Handle: uint64(e.Sub), Acked: e.Acked, Missed: e.Missed})
		}
		recs = append(recs, r)
	})
	if u.IdemMem != nil { // standalone: the Idempotency-Keys answered (in Redis they stay there)
		u.IdemMem.Export(func(key string, expires time.Time, answer []byte) {
			if len(answer) > handoff.MaxIdemAnswer {
				return // none is near this (a publish's answer); its retry would be delivered again
			}
			recs = append(recs, handoff.Record{Kind: handoff.KindIdem, Idem: handoff.Idem{
				Key: []byte(key), ExpiresMs: expires.UnixMilli(), Answer: answer}})
		})
	}
	// The messages' bytes are read after the locks: nothing changes them once published,
	// and the store's references keep them until this process exits.
	for i := range recs {
		if err := snd.Add(&recs[i], -1); err != nil {
			return err
		}
	}
	return nil
}

// adoptQoS keeps what the old process had stored and sent. A message the store here has no
// room for (a smaller --store-messages or --store-bytes) fails the takeover: the old process
// keeps it rather than lose it.
func (u *Upgrader) adoptQoS(t *handoff.Taken, now time.Time) error {
	nowMs := now.UnixMilli()
	for i := range t.Stored {
		st := &t.Stored[i]
		m := edge.NewMessage(st.Seq, st.TimeMs)
		m.SetPayload(st.To, st.Event, st.ContentType, st.Data, st.JSON, st.QoS)
		m.Expiry = st.Expiry
		err := u.Store.Box.Put(context.Background(), st.User, m, nowMs)
		m.Release()
		if err != nil && st.Expiry > nowMs {
			return fmt.Errorf("a stored QoS 1 message for %q: %w", st.User, err)
		}
	}
	var entries []store.SentEntry
	for i := range t.Sent {
		us := &t.Sent[i]
		entries = entries[:0]
		for _, e := range us.Entries {
			entries = append(entries, store.SentEntry{ID: e.ID, Expiry: e.Expiry,
				Sub: conntable.Sub(e.Handle), Acked: e.Acked, Missed: e.Missed})
		}
		u.Sent.Restore(us.User, entries, nowMs)
	}
	if u.IdemMem != nil {
		for _, k := range t.Idem {
			u.IdemMem.Restore(string(k.Key), time.UnixMilli(k.ExpiresMs), k.Answer)
		}
	}
	return nil
}
