package subscribe

import (
	"strings"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/conntable"
)

// loopAllow keeps, for the streams a token or the auth callback admitted,
// the topic patterns auth allowed them (SPEC §6), so that a server-side
// subscribe (mesh/subscriptions.go) is held to them as the stream's own subscribe
// was. Streams admitted with the same patterns share one interned set, so
// one more stream costs a map entry (~20 bytes), not a copy of its patterns;
// nodes without subscriber auth keep nothing. Only the owning loop touches it.
//
// A stream handed over by an upgrade (upgrade/handoff.go) keeps its patterns:
// the old process reads them (AllowedOf) into the stream's record, the new
// one keeps them again (KeepAllowed).
type loopAllow struct {
	allowOf   map[conntable.Sub]int32 // 1-based into allowSets
	allowIDs  map[string]int32        // an interned set by its patterns' text
	allowSets []allowSet
	freeAllow []int32
}

type allowSet struct {
	id   auth.Identity // Topics and AnyTopic; User unused
	text string        // its key in allowIDs
	refs int32
}

// keepAllowed records what auth allowed stream sub; nil id (no auth): nothing.
func (la *loopAllow) keepAllowed(sub conntable.Sub, id *auth.Identity) {
	if id == nil || (!id.AnyTopic && len(id.Topics) == 0) {
		return // allows nothing beyond --topic-acl: the same as no entry
	}
	text := "*"
	if !id.AnyTopic {
		text = "=" + strings.Join(id.Topics, "\x00")
	}
	if la.allowOf == nil {
		la.allowOf, la.allowIDs = map[conntable.Sub]int32{}, map[string]int32{}
	}
	i, ok := la.allowIDs[text]
	if !ok {
		set := allowSet{id: auth.Identity{Topics: id.Topics, AnyTopic: id.AnyTopic}, text: text}
		if n := len(la.freeAllow); n > 0 {
			i = la.freeAllow[n-1]
			la.freeAllow = la.freeAllow[:n-1]
			la.allowSets[i-1] = set
		} else {
			la.allowSets = append(la.allowSets, set)
			i = int32(len(la.allowSets))
		}
		la.allowIDs[text] = i
	}
	la.allowSets[i-1].refs++
	la.allowOf[sub] = i
}

// KeepAllowed records what auth allowed stream sub, as its subscribe did: a stream an upgrade
// handed over (upgrade/handoff.go), before the loops start.
func (la *loopAllow) KeepAllowed(sub conntable.Sub, id *auth.Identity) { la.keepAllowed(sub, id) }

// AllowedOf is what auth allowed stream sub beyond --topic-acl; nil when nothing. The
// identity is the loop's interned set: read it, do not keep or change it.
func (la *loopAllow) AllowedOf(sub conntable.Sub) *auth.Identity {
	if i, ok := la.allowOf[sub]; ok {
		return &la.allowSets[i-1].id
	}
	return nil
}

// ForgetAllowed drops sub's record, and its set with its last stream.
func (la *loopAllow) ForgetAllowed(sub conntable.Sub) {
	i, ok := la.allowOf[sub]
	if !ok {
		return
	}
	delete(la.allowOf, sub)
	set := &la.allowSets[i-1]
	if set.refs--; set.refs == 0 {
		delete(la.allowIDs, set.text)
		*set = allowSet{}
		la.freeAllow = append(la.freeAllow, i)
	}
}

// TopicAllowed reports whether subscriber sub, of user, may take topic: by
// the patterns auth gave it or by --topic-acl. Without subscriber auth every
// topic is allowed, as on a subscribe.
func (ls *SubLoop) TopicAllowed(sub conntable.Sub, user, topic []byte) bool {
	a := ls.s.Auth
	if a == nil {
		return true
	}
	if i, ok := ls.allowOf[sub]; ok && ls.allowSets[i-1].id.Allows(topic) {
		return true
	}
	return a.acl.Allows(user, topic)
}
