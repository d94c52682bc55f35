package server

import (
	"context"
	"fmt"
	"time"

	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/store"
)

// The QoS 1 state a standalone node keeps in memory (store.Memory through mailbox.go, sentlog.go) goes with an
// upgrade: every message answered "stored" and not acknowledged, and which of them were
// written to which connection (the handles stay valid in the new process), so that acks sent
// to the new process remove what the old one delivered. In a cluster the messages are in Redis;
// the sent entries go too.

// exportQoS adds the stored messages and sent entries to snd. It runs after the quiesce, when
// no loop reads a request any more, so neither changes meanwhile.
func (s *Server) exportQoS(snd *handoff.Sender) error {
	var recs []handoff.Record
	if mem, ok := s.store.box.(*store.Memory[*message]); ok { // in Redis they stay there
		mem.Each(func(user string, m *message) {
			recs = append(recs, handoff.Record{Kind: handoff.KindStored, Stored: handoff.Stored{
				User: []byte(user), Seq: m.Seq, TimeMs: m.TimeMs, Expiry: m.Expiry, QoS: m.QoS, JSON: m.JSON,
				To: m.To, Event: m.Event, ContentType: m.ContentType, Data: m.Data}})
		})
	}
	for i := range s.sent.shards {
		sh := &s.sent.shards[i]
		sh.mu.Lock()
		for user, u := range sh.users {
			r := handoff.Record{Kind: handoff.KindSent, Sent: handoff.Sent{User: []byte(user)}}
			for _, e := range u.q {
				r.Sent.Entries = append(r.Sent.Entries, handoff.SentEntry{ID: e.id, Expiry: e.expiry,
					Handle: uint64(e.h), Acked: e.acked, Missed: e.missed})
			}
			recs = append(recs, r)
		}
		sh.mu.Unlock()
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
func (s *Server) adoptQoS(t *handoff.Taken, now time.Time) error {
	nowMs := now.UnixMilli()
	for i := range t.Stored {
		st := &t.Stored[i]
		m := newMessage(st.Seq, st.TimeMs)
		m.setPayload(st.To, st.Event, st.ContentType, st.Data, st.JSON, st.QoS)
		m.Expiry = st.Expiry
		err := s.store.box.Put(context.Background(), st.User, m, nowMs)
		m.Release()
		if err != nil && st.Expiry > nowMs {
			return fmt.Errorf("a stored QoS 1 message for %q: %w", st.User, err)
		}
	}
	for i := range t.Sent {
		u := &t.Sent[i]
		for _, e := range u.Entries {
			s.sent.note(u.User, engine.Handle(e.Handle), e.ID, e.Expiry, nowMs)
		}
		s.sent.restoreAcks(u.User, u.Entries)
	}
	return nil
}

// restoreAcks sets the acked time and miss count of the user's entries just noted from a
// handoff (note records neither).
func (l *sentLog) restoreAcks(user []byte, entries []handoff.SentEntry) {
	sh := l.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[string(user)]
	if u == nil {
		return
	}
	// Both are in the order written (note may have dropped some for room).
	j := 0
	for k := range u.q {
		for j < len(entries) && (entries[j].ID != u.q[k].id || engine.Handle(entries[j].Handle) != u.q[k].h) {
			j++
		}
		if j == len(entries) {
			return
		}
		u.q[k].acked, u.q[k].missed = entries[j].Acked, entries[j].Missed
		j++
	}
}
