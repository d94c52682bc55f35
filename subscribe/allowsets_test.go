package subscribe

import (
	"testing"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/conntable"
)

// TestLoopAllowInterns: streams admitted with the same topic patterns share
// one set; a set goes with its last stream and its slot is reused; an
// identity that allows no topic of its own keeps nothing.
func TestLoopAllowInterns(t *testing.T) {
	var la loopAllow
	news := &auth.Identity{Topics: []string{"news.*", "chat"}}
	sub := func(i int) conntable.Sub { return conntable.StreamSub(0, i, 1) }
	for i := range 3 {
		la.keepAllowed(sub(i), &auth.Identity{Topics: []string{"news.*", "chat"}})
	}
	la.keepAllowed(sub(3), &auth.Identity{AnyTopic: true})
	la.keepAllowed(sub(4), &auth.Identity{})
	la.keepAllowed(sub(5), nil)
	if len(la.allowSets) != 2 || len(la.allowOf) != 4 || la.allowSets[0].refs != 3 {
		t.Fatalf("after 3 streams with one list, 1 with any topic, 2 with none: %d sets, %d streams, refs %d; want 2, 4, 3",
			len(la.allowSets), len(la.allowOf), la.allowSets[0].refs)
	}
	if set := la.allowSets[la.allowOf[sub(1)]-1]; !set.id.Allows([]byte("news.eu")) || set.id.Allows([]byte("sport")) || set.id.AnyTopic != news.AnyTopic {
		t.Errorf("stream 1's set allows news.eu %v, sport %v; want true, false", set.id.Allows([]byte("news.eu")), set.id.Allows([]byte("sport")))
	}
	for i := range 3 {
		la.ForgetAllowed(sub(i))
	}
	la.ForgetAllowed(sub(4)) // kept nothing: a no-op
	if len(la.allowIDs) != 1 || len(la.freeAllow) != 1 || len(la.allowOf) != 1 {
		t.Fatalf("after the 3 streams left: %d interned, %d free slots, %d streams; want 1, 1, 1", len(la.allowIDs), len(la.freeAllow), len(la.allowOf))
	}
	la.keepAllowed(sub(6), &auth.Identity{Topics: []string{"other"}})
	if len(la.allowSets) != 2 || len(la.freeAllow) != 0 {
		t.Errorf("a new list after a set was freed: %d sets, %d free; want the slot reused (2, 0)", len(la.allowSets), len(la.freeAllow))
	}
}
