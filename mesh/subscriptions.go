package mesh

import (
	"slices"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/links"
)

// Server-side subscriptions (SPEC §9; the endpoints and the merge of the
// nodes' answers are admin's, admin/subscriptions.go): this node's part,
// changing its own streams on their loops. The first subscriber of a topic
// on a node registers it in the directory and the last one to leave
// unregisters it, as for a subscribe and a close (join, leave).
//
// A stream is held to what auth allowed it (subscribe/allowsets.go, --topic-acl): a
// topic it could not have asked for itself is refused (403) unless the call
// says force=1. Long-polls have no lasting subscription (each poll names its
// topics), so they are left out: a conn key of a waiting poll answers 404.

// AllowSubscriptions is the Allow field of a 405 on /subscriptions/.
const AllowSubscriptions = "POST, DELETE"

// changeTimeout bounds the wait for this node's loops to change their
// streams (they answer within a loop iteration; only a stopping node fails to).
const changeTimeout = time.Second

// changeLocal runs a changing query on this node's own streams, each on its
// loop, and waits for their answers. It runs off the loops: on an api
// call's goroutine, or on a peer's query link.
//
// A change (subscribe, unsubscribe, kick) passes the upgrade's gate as a
// peer's push does (take.go): while the node hands its streams over it is
// refused with the same error — a change made to a stream already exported
// would be lost with the old process (or, for an unsubscribe or a kick,
// take names out of the directory and pw:uc that the new process still
// holds; a kicked frame written after the export fails the upgrade) — and
// one admitted is counted, so the hand-off waits for it to land first. The
// api answers a refused change 503 naming the node; a refused kick is
// retried by the kicker (userpolicy/kickretry.go).
func (cn *clusterNode) changeLocal(q *links.Query) links.QueryAnswer {
	s := cn.s
	if q.Op == links.QueryHolds { // userpolicy/admission.go; read-only, open during an upgrade
		return links.QueryAnswer{Count: s.Policy.Holds(q.Name)}
	}
	if refusal := s.MeshGlue.AdmitTake(); refusal != "" {
		return links.QueryAnswer{Err: refusal}
	}
	defer s.MeshGlue.TakeDone()
	if q.Op == links.QueryKick && q.Conn && s.Policy.KickPending(q.Name) {
		return links.QueryAnswer{Count: 1} // its loop kicks it once started (userpolicy/pending.go)
	}
	var subs []conntable.Sub
	if q.Conn {
		k, node, ok := edge.ParseKeyText([]byte(q.Name))
		if ok && (node == nil || string(node) == s.ID) {
			if sub, ok := s.LookupKey(k); ok {
				subs = append(subs, sub)
			}
		}
	} else {
		subs = s.Table.AppendMembers(nil, conntable.Users, []byte(q.Name))
	}
	if len(subs) == 0 {
		return links.QueryAnswer{}
	}
	slices.SortFunc(subs, func(a, b conntable.Sub) int { return a.Loop() - b.Loop() })
	results := make(chan []links.NameCount, len(s.loops))
	asked := 0
	for len(subs) > 0 {
		loop := subs[0].Loop()
		n := 1
		for n < len(subs) && subs[n].Loop() == loop {
			n++
		}
		group := subs[:n]
		subs = subs[n:]
		asked++
		s.Eng.Submit(loop, engine.Task{Op: edge.OpRun, V: func(l *engine.Loop) {
			results <- s.loops[l.Index()].changeSubs(l, q, group)
		}})
	}
	var a links.QueryAnswer
	timeout := time.NewTimer(changeTimeout)
	defer timeout.Stop()
	for range asked {
		select {
		case r := <-results:
			a.Topics = append(a.Topics, r...)
		case <-timeout.C:
			return links.QueryAnswer{Err: "the node's loops did not answer"}
		}
	}
	for _, e := range a.Topics {
		if e.Count != links.OutcomeForbidden && e.Count != links.OutcomeFull {
			a.Count++
		}
	}
	return a
}

// changeSubs changes, on their loop, the streams of subs that still live:
// each one's topics, or it is kicked (QueryKick).
func (ls *MeshLoop) changeSubs(l *engine.Loop, q *links.Query, subs []conntable.Sub) []links.NameCount {
	var out []links.NameCount
	for _, sub := range subs {
		s, conn := ls.SubscriberOf(sub)
		if s == nil || !s.Subscribed || s.Mode != edge.ModeStream {
			continue
		}
		key := string(ls.s.AppendKeyText(nil, ls.KeyOf(sub)))
		if q.Op == links.QueryKick { // the user policy's oldest-out from another node
			ls.s.Policy.UserEvicted.Add(1)
			ls.Kick(l, sub, s, conn)
			out = append(out, links.NameCount{Name: key, Count: links.OutcomeChanged})
			continue
		}
		out = append(out, links.NameCount{Name: key, Count: ls.changeTopics(sub, s, q)})
	}
	return out
}

// changeTopics adds or removes q's topics of stream s. A subscribe of a
// topic the stream's auth does not allow changes nothing unless forced; one
// that would give it more than links.MaxStreamTopics changes nothing.
func (ls *MeshLoop) changeTopics(sub conntable.Sub, s *edge.SubState, q *links.Query) links.Outcome {
	if q.Op == links.QuerySubscribe && !q.Force {
		user := slices.Clone(ls.SubUser(s))
		for _, t := range q.Topics {
			if !ls.TopicAllowed(sub, user, []byte(t)) {
				return links.OutcomeForbidden
			}
		}
	}
	if q.Op == links.QuerySubscribe && ls.topicsAfter(s, q.Topics) > links.MaxStreamTopics {
		return links.OutcomeFull // forced or not: a stream past it could not move in an upgrade
	}
	outcome := links.OutcomeSame
	for _, t := range q.Topics {
		m, has := ls.topicMembership(s, []byte(t))
		switch {
		case q.Op == links.QuerySubscribe && !has:
			ls.Join(sub, s, conntable.Topics, []byte(t))
			outcome = links.OutcomeChanged
		case q.Op == links.QueryUnsubscribe && has:
			ls.dropMember(s, m)
			name, g, last := ls.s.Table.LeaveLast(ls.Names[:0], m)
			ls.Names = name
			if last {
				ls.s.Cluster.Left(g, name)
			}
			outcome = links.OutcomeChanged
		}
	}
	return outcome
}

// topicsAfter is how many topics s would hold with topics added.
func (ls *MeshLoop) topicsAfter(s *edge.SubState, topics []string) int {
	n := len(ls.SubMembers(s))
	if s.HasUser {
		n-- // the user's membership
	}
	for i, t := range topics {
		if _, has := ls.topicMembership(s, []byte(t)); !has && !slices.Contains(topics[:i], t) {
			n++
		}
	}
	return n
}

// topicMembership finds s's membership of topic.
func (ls *MeshLoop) topicMembership(s *edge.SubState, topic []byte) (conntable.Membership, bool) {
	for _, m := range ls.SubMembers(s) {
		name, g, ok := ls.s.Table.AppendName(ls.Names[:0], m)
		ls.Names = name
		if ok && g == conntable.Topics && string(name) == string(topic) {
			return m, true
		}
	}
	return 0, false
}

// dropMember forgets membership token m of s (the caller leaves the table):
// the inline slot it held takes the last of the side list, so the inline
// slots fill first as addMember expects; the user's, member[0], never goes.
func (ls *MeshLoop) dropMember(s *edge.SubState, m conntable.Membership) {
	var more []conntable.Membership
	if s.More != 0 {
		more = ls.More[s.More-1]
	}
	if i := slices.Index(s.Member[:], m); i >= 0 {
		s.Member[i] = 0
		if n := len(more); n > 0 {
			s.Member[i], more = more[n-1], more[:n-1]
		}
	} else if i := slices.Index(more, m); i >= 0 {
		more = slices.Delete(more, i, i+1)
	}
	if s.More == 0 {
		return
	}
	ls.More[s.More-1] = more
	if len(more) == 0 {
		ls.FreeMore = append(ls.FreeMore, s.More)
		s.More = 0
	}
}
