package subscribe

import (
	"testing"
	"time"

	"github.com/pushwire/pushwire/edge"
)

// TestStreamLifePacking: a stream's deadlines share subState.timer without
// touching each other, and the refresh mark survives both.
func TestStreamLifePacking(t *testing.T) {
	s := &Subscribing{Node: &edge.Node{Started: time.Date(2026, 12, 6, 4, 0, 0, 300e6, time.UTC)}}
	age := s.lifeStamp(s.Started.Add(90*time.Minute), lifeAgeMask)
	exp := s.expStamp(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC))
	life := streamLife(age) | streamLife(exp)<<lifeExpShift | lifeRefreshed
	if life.ageEnd() != age || life.expiry() != exp || !life.refreshed() {
		t.Errorf("packed %#x reads age %d, exp %d, refreshed %v; want %d, %d, true", uint64(life), life.ageEnd(), life.expiry(), life.refreshed(), age, exp)
	}
	if got := s.expTime(exp); !got.Equal(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("expTime(expStamp(05:00:00)) = %v; want 05:00:00 exactly (a token's exp is whole seconds)", got)
	}
	if got := s.expTime(s.expStamp(s.Started.Add(1500 * time.Millisecond))); !got.Equal(time.Date(2026, 12, 6, 4, 0, 2, 0, time.UTC)) {
		t.Errorf("an expiry 1.5 s after the start is kept as %v; want 04:00:02, rounded up", got)
	}
	if st := s.expStamp(s.Started.Add(-time.Hour)); st != 1 {
		t.Errorf("expStamp(before the start) = %d; want 1 (due at once, never 0: none)", st)
	}
	if st := s.expStamp(s.Started.Add(100 * 365 * 24 * time.Hour)); st != 0 {
		t.Errorf("expStamp(a century on) = %d; want 0 (beyond what the field holds: no expiry)", st)
	}
}
