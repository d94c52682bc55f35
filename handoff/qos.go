package handoff

import "encoding/binary"

// The QoS 1 state of a standalone node (kept in memory, where a cluster keeps it in Redis):
// the messages stored for users and which of them were written to which connection, so that
// nothing answered "stored" is lost and acks keep removing what was sent before the upgrade.

const (
	storedFixed = 8 + 8 + 8 + 2 // seq, time, expiry, qos+json
	sentEntry   = 8 + 8 + 8 + 8 + 1
)

func appendStored(dst []byte, m *Stored) ([]byte, error) {
	if len(m.User) > MaxName || len(m.To) > MaxName || len(m.Event) > MaxName ||
		len(m.ContentType) > MaxName || len(m.Data) > MaxData {
		return dst, ErrTooLarge
	}
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, m.Seq)
	dst = le.AppendUint64(dst, uint64(m.TimeMs))
	dst = le.AppendUint64(dst, uint64(m.Expiry))
	dst = append(dst, m.QoS, b2u(m.JSON))
	dst = appendBytes16(dst, m.User)
	dst = appendBytes16(dst, m.To)
	dst = appendBytes16(dst, m.Event)
	dst = appendBytes16(dst, m.ContentType)
	return appendBytes32(dst, m.Data), nil
}

func parseStored(b []byte, m *Stored) error {
	if len(b) < storedFixed || b[25] > 1 {
		return ErrCorrupt
	}
	le := binary.LittleEndian
	m.Seq, m.TimeMs, m.Expiry = le.Uint64(b), int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:]))
	m.QoS, m.JSON = b[24], b[25] == 1
	d := decoder{b: b[storedFixed:]}
	m.User = d.bytes16(MaxName)
	m.To = d.bytes16(MaxName)
	m.Event = d.bytes16(MaxName)
	m.ContentType = d.bytes16(MaxName)
	m.Data = d.bytes32(MaxData)
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrCorrupt
	}
	return d.err
}

func appendSent(dst []byte, s *Sent) ([]byte, error) {
	if len(s.User) > MaxName || len(s.Entries) > MaxSentEntries {
		return dst, ErrTooLarge
	}
	le := binary.LittleEndian
	dst = appendBytes16(dst, s.User)
	dst = le.AppendUint32(dst, uint32(len(s.Entries)))
	for _, e := range s.Entries {
		dst = le.AppendUint64(dst, e.ID)
		dst = le.AppendUint64(dst, uint64(e.Expiry))
		dst = le.AppendUint64(dst, e.Handle)
		dst = le.AppendUint64(dst, uint64(e.Acked))
		dst = append(dst, e.Missed)
	}
	return dst, nil
}

func parseSent(b []byte, s *Sent) error {
	d := decoder{b: b}
	s.User = d.bytes16(MaxName)
	nb := d.take(4)
	if d.err != nil {
		return d.err
	}
	n := binary.LittleEndian.Uint32(nb)
	if n > MaxSentEntries {
		return ErrTooLarge
	}
	if uint64(len(d.b)) != uint64(n)*sentEntry {
		return ErrCorrupt
	}
	le := binary.LittleEndian
	s.Entries = s.Entries[:0]
	for k := range int(n) {
		e := d.b[k*sentEntry:]
		s.Entries = append(s.Entries, SentEntry{ID: le.Uint64(e), Expiry: int64(le.Uint64(e[8:])),
			Handle: le.Uint64(e[16:]), Acked: int64(le.Uint64(e[24:])), Missed: e[32]})
	}
	return nil
}
