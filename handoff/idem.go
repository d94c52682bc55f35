package handoff

import (
	"encoding/binary"
	"slices"
)

// A standalone node keeps the Idempotency-Keys of its publishes in memory (a cluster keeps
// them in Redis): each key answered within --idempotency-window moves as a KindIdem record,
// so that a publisher's retry after the upgrade is answered as a duplicate, not delivered
// again (SPEC §4).

// KindIdem is one Idempotency-Key and the answer recorded for it (no descriptor).
const KindIdem Kind = 6

// MaxIdemAnswer bounds the answer recorded for a key (a publish's JSON answer).
const MaxIdemAnswer = 1 << 20

// Idem is an Idempotency-Key with its answer, kept until ExpiresMs (unix ms).
type Idem struct {
	Key       []byte
	ExpiresMs int64
	Answer    []byte
}

func appendIdem(dst []byte, m *Idem) ([]byte, error) {
	if len(m.Key) == 0 || len(m.Key) > MaxName || len(m.Answer) == 0 || len(m.Answer) > MaxIdemAnswer {
		return dst, ErrTooLarge
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(m.ExpiresMs))
	dst = appendBytes16(dst, m.Key)
	return appendBytes32(dst, m.Answer), nil
}

// parseIdem reads a KindIdem body; m's slices are views into b.
func parseIdem(b []byte, m *Idem) error {
	if len(b) < 8 {
		return ErrCorrupt
	}
	m.ExpiresMs = int64(binary.LittleEndian.Uint64(b))
	d := decoder{b: b[8:]}
	m.Key = d.bytes16(MaxName)
	m.Answer = d.bytes32(MaxIdemAnswer)
	if d.err == nil && (len(d.b) != 0 || len(m.Key) == 0 || len(m.Answer) == 0) {
		d.err = ErrCorrupt // an empty key or answer is never written
	}
	return d.err
}

func cloneIdem(m *Idem) Idem {
	return Idem{Key: slices.Clone(m.Key), ExpiresMs: m.ExpiresMs, Answer: slices.Clone(m.Answer)}
}
