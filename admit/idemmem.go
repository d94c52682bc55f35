package admit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// IdemMemory keeps idempotency keys in this process (standalone): a map
// bounded by IdemOptions.Keys. Keys leave in claim order: expired ones as
// new claims come, and when the map is full the oldest go first, counted
// (Evicted) — an evicted key's retry is delivered again.
//
// Lock contract: mu guards every field but evicted; it is never held
// across anything but map and slice work.
type IdemMemory struct {
	o       IdemOptions
	evicted atomic.Uint64

	mu    sync.Mutex
	keys  map[string]*idemEntry
	order []*idemEntry // claim order; order[head:] are live or not yet collected
	head  int
}

type idemEntry struct {
	key     string
	expires time.Time // hold while pending, window once answered
	answer  []byte    // nil while pending
	gone    bool      // released or replaced: only its order slot remains
}

// NewIdemMemory returns an empty store of at most o.Keys keys (1 at least).
func NewIdemMemory(o IdemOptions) *IdemMemory {
	o.Keys = max(o.Keys, 1)
	return &IdemMemory{o: o, keys: make(map[string]*idemEntry)}
}

// Evicted counts keys dropped, unexpired, to make room.
func (m *IdemMemory) Evicted() uint64 { return m.evicted.Load() }

// Len is the number of keys held.
func (m *IdemMemory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// Claim never fails: the map is here.
func (m *IdemMemory) Claim(_ context.Context, keys []string, out []Claim) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		if e := m.keys[k]; e != nil && now.Before(e.expires) {
			if e.answer == nil {
				out[i] = Claim{Pending: true}
			} else {
				out[i] = Claim{Answer: e.answer}
			}
			continue
		} else if e != nil {
			e.gone = true
			delete(m.keys, k)
		}
		m.collect(now)
		e := &idemEntry{key: k, expires: now.Add(m.o.Hold)}
		m.keys[k] = e
		m.order = append(m.order, e)
		out[i] = Claim{Won: true}
	}
	return nil
}

// Record keeps each answer for the window, or releases the key.
func (m *IdemMemory) Record(_ context.Context, keys []string, answers [][]byte) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	for i, k := range keys {
		e := m.keys[k]
		switch {
		case e == nil || e.answer != nil:
			err = ErrIdemClaimLost // evicted, or lapsed and claimed again
		case answers[i] == nil:
			e.gone = true
			delete(m.keys, k)
		default:
			e.answer = answers[i] // Record's contract: the caller leaves it alone
			e.expires = now.Add(m.o.Window)
		}
	}
	return err
}

// collect drops, oldest first, the keys that expired and, while the map is
// full, unexpired ones (counted). mu must be held.
func (m *IdemMemory) collect(now time.Time) {
	for m.head < len(m.order) {
		e := m.order[m.head]
		switch {
		case e.gone:
		case !now.Before(e.expires):
			delete(m.keys, e.key)
		case len(m.keys) >= m.o.Keys:
			delete(m.keys, e.key)
			m.evicted.Add(1)
		default:
			m.compact()
			return
		}
		m.order[m.head] = nil
		m.head++
	}
	m.compact()
}

// compact reclaims the collected front of order. mu must be held.
func (m *IdemMemory) compact() {
	if m.head > 1024 && m.head > len(m.order)/2 {
		n := copy(m.order, m.order[m.head:])
		clear(m.order[n:])
		m.order, m.head = m.order[:n], 0
	}
}

// Export calls fn with every key answered and not expired, in claim order: what an upgrade
// hands to the new process (upgrade/qos.go), so that a retry there is still a duplicate. A key
// still pending has no answer to carry: its publish is answered by this process. fn runs
// under mu and must not call m.
func (m *IdemMemory) Export(fn func(key string, expires time.Time, answer []byte)) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.order[m.head:] {
		if !e.gone && e.answer != nil && now.Before(e.expires) && m.keys[e.key] == e {
			fn(e.key, e.expires, e.answer)
		}
	}
}

// Restore keeps key answered with answer until expires, as Record would have: a key an
// upgrade carried. Called in the old process's claim order, before any claim.
func (m *IdemMemory) Restore(key string, expires time.Time, answer []byte) {
	now := time.Now()
	if !now.Before(expires) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.keys[key]; old != nil {
		old.gone = true
	}
	m.collect(now)
	e := &idemEntry{key: key, expires: expires, answer: answer}
	m.keys[key] = e
	m.order = append(m.order, e)
}
