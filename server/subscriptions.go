package server

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Server-side subscriptions (SPEC §9): POST and DELETE
// /subscriptions/conn/<key>?topic=A&topic=B and /subscriptions/user/<id>?topic=..
// add topics to, or remove them from, live streams: one stream, or every
// stream of the user on every node. The node that takes the call changes
// its own streams on their loops and asks the nodes the directory names for
// the user (or the node a conn key names) over the query links
// (cluster/subquery.go), as presence does; the first subscriber of a topic
// on a node registers it in the directory and the last one to leave
// unregisters it, as for a subscribe and a close (join, leave).
//
// A stream is held to what auth allowed it (allowsets.go, --topic-acl): a
// topic it could not have asked for itself is refused (403) unless the call
// says force=1. Long-polls have no lasting subscription (each poll names its
// topics), so they are left out: a conn key of a waiting poll answers 404.

// allowSubscriptions is the Allow field of a 405 on /subscriptions/.
const allowSubscriptions = "POST, DELETE"

// subscriptions answers the server-side subscription endpoints: bad input at
// once, a good call on a goroutine (the connection waits in modeAsync), like
// presence, with whose queries it shares the bound on calls at once.
func (ls *loopState) subscriptions(l *engine.Loop, h engine.Handle, c *connState, req *httpcodec.Request, path []byte) {
	var q cluster.Query
	switch string(req.Method()) {
	case "POST":
		q.Op = cluster.QuerySubscribe
	case "DELETE":
		q.Op = cluster.QueryUnsubscribe
	default:
		ls.answerNotAllowed(l, h, req, allowSubscriptions, "use POST to add topics, DELETE to remove them")
		return
	}
	if status, reason := ls.parseSubscriptions(&q, path, req.Query()); status != 0 {
		ls.answerError(l, h, req, status, reason)
		return
	}
	ls.queryAsync(l, h, c, req, func(cn *clusterNode) (int, []byte) { return cn.answerSubscriptions(&q) }) // presence.go
}

// parseSubscriptions reads the target from the path and topic= (one or
// more) and force= from the query; a non-zero status says why not.
func (ls *loopState) parseSubscriptions(q *cluster.Query, path, query []byte) (int, string) {
	kind, name, ok := bytes.Cut(path[len("/subscriptions/"):], []byte("/"))
	switch {
	case !ok || (string(kind) != "conn" && string(kind) != "user"):
		return 404, "server-side subscription endpoints are /subscriptions/conn/<key> and /subscriptions/user/<id>"
	case string(kind) == "conn":
		if _, _, ok := parseKeyText(name); !ok {
			return 404, "no live connection with that key"
		}
		q.Conn, q.Name = true, string(name)
	default:
		var err error
		ls.query, err = httpcodec.AppendUnescape(ls.query[:0], name)
		if err != nil || !push.ValidName(ls.query) {
			return 400, "the user id must be 1-256 printable bytes, percent-escaped in the path"
		}
		q.Name = string(ls.query)
	}
	status, reason := 0, ""
	httpcodec.QueryEach(query, func(key, value []byte) bool {
		v, err := httpcodec.AppendUnescape(nil, value)
		switch {
		case err != nil:
			status, reason = 400, "the query is not validly percent-escaped"
		case string(key) == "topic":
			if !push.ValidName(v) {
				status, reason = 400, "topic "+strconv.Itoa(len(q.Topics)+1)+" is not 1-256 printable bytes without spaces"
			} else if len(q.Topics) == cluster.MaxChangeTopics {
				status, reason = 400, "at most "+strconv.Itoa(cluster.MaxChangeTopics)+" topics at once"
			}
			q.Topics = append(q.Topics, string(v))
		case string(key) == "force":
			switch string(v) {
			case "1", "true":
				q.Force = true
			case "0", "false":
				q.Force = false
			default:
				status, reason = 400, "force must be 1 or 0"
			}
		}
		return status == 0
	})
	if status == 0 && len(q.Topics) == 0 {
		return 400, "name at least one topic: ?topic=<name>"
	}
	return status, reason
}

// answerSubscriptions changes the streams q names on every node that may
// hold them and merges the nodes' answers into the JSON body.
func (cn *clusterNode) answerSubscriptions(q *cluster.Query) (int, []byte) {
	var answers []nodeAnswer
	var peers []string
	if q.Conn {
		_, node, _ := parseKeyText([]byte(q.Name))
		if node == nil || string(node) == cn.s.nodeID {
			answers = append(answers, nodeAnswer{node: cn.s.nodeID, a: cn.changeLocal(q)})
		} else if !cn.alone() {
			peers = []string{string(node)}
		}
	} else {
		answers = append(answers, nodeAnswer{node: cn.s.nodeID, a: cn.changeLocal(q)})
		if !cn.alone() {
			ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
			ids, err := cn.dir.UserNodes(ctx, q.Name)
			cancel()
			if err != nil {
				return 503, appendErrorObject(nil, "directory unavailable: "+err.Error())
			}
			peers = slices.DeleteFunc(ids, func(id string) bool { return id == cn.s.nodeID })
		}
	}
	answers = append(answers, cn.askPeers(q, peers)...)
	return mergeChanges(answers)
}

// mergeChanges sums the nodes' answers: {"connections":n,"changed":m,
// "conns":[keys],"forbidden":[keys],"unreachable":[nodes]}. 404 when no
// stream was found, 403 when every one found refused a topic, 503 when none
// was found and a node that may hold some did not answer.
func mergeChanges(answers []nodeAnswer) (int, []byte) {
	var conns, forbidden, unreachable []string
	total, changed, unknown := 0, 0, false
	for _, na := range answers {
		switch na.kind() { // presence.go
		case answered:
		case notANode:
			continue
		case nodeGone:
			unreachable = append(unreachable, na.node)
			continue
		default:
			unreachable, unknown = append(unreachable, na.node), true
			continue
		}
		total += na.a.Count
		for _, e := range na.a.Topics {
			switch e.Count {
			case cluster.OutcomeForbidden:
				forbidden = append(forbidden, e.Name)
			case cluster.OutcomeChanged:
				changed++
				conns = append(conns, e.Name)
			default:
				conns = append(conns, e.Name)
			}
		}
	}
	slices.Sort(conns)
	slices.Sort(forbidden)
	slices.Sort(unreachable)
	body := append([]byte(`{"connections":`), strconv.Itoa(total)...)
	body = append(body, `,"changed":`...)
	body = strconv.AppendInt(body, int64(changed), 10)
	body = appendNodeList(append(body, `,"conns":`...), conns)
	if len(forbidden) > 0 {
		body = appendNodeList(append(body, `,"forbidden":`...), forbidden)
	}
	if len(unreachable) > 0 {
		body = appendNodeList(append(body, `,"unreachable":`...), unreachable)
	}
	status, reason := 200, ""
	switch {
	case total > 0:
	case len(forbidden) > 0:
		status, reason = 403, "a topic is not allowed for this subscriber by its auth or --topic-acl; force=1 takes it all the same"
	case unknown:
		status, reason = 503, "no node that may hold the streams answered"
	default:
		status, reason = 404, "no live stream with that key or of that user (long-polls have no lasting subscription)"
	}
	if reason != "" {
		body = append(body, `,"error":`...)
		body = httpcodec.AppendJSONString(body, []byte(reason))
	}
	return status, append(body, '}')
}

// changeTimeout bounds the wait for this node's loops to change their
// streams (they answer within a loop iteration; only a stopping node fails to).
const changeTimeout = time.Second

// changeLocal runs a changing query on this node's own streams, each on its
// loop, and waits for their answers. It runs off the loops: on an api
// call's goroutine, or on a peer's query link.
func (cn *clusterNode) changeLocal(q *cluster.Query) cluster.QueryAnswer {
	s := cn.s
	if q.Op == cluster.QueryHolds { // userpolicy.go
		return cluster.QueryAnswer{Count: cn.holds(q.Name)}
	}
	var subs []conntable.Sub
	if q.Conn {
		k, node, ok := parseKeyText([]byte(q.Name))
		if ok && (node == nil || string(node) == s.nodeID) {
			if sub, ok := s.lookupKey(k); ok {
				subs = append(subs, sub)
			}
		}
	} else {
		subs = s.table.AppendMembers(nil, conntable.Users, []byte(q.Name))
	}
	if len(subs) == 0 {
		return cluster.QueryAnswer{}
	}
	slices.SortFunc(subs, func(a, b conntable.Sub) int { return a.Loop() - b.Loop() })
	results := make(chan []cluster.NameCount, len(s.loops))
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
		s.eng.Submit(loop, engine.Task{Op: opRun, V: func(l *engine.Loop) {
			results <- s.loops[l.Index()].changeSubs(l, q, group)
		}})
	}
	var a cluster.QueryAnswer
	timeout := time.NewTimer(changeTimeout)
	defer timeout.Stop()
	for range asked {
		select {
		case r := <-results:
			a.Topics = append(a.Topics, r...)
		case <-timeout.C:
			return cluster.QueryAnswer{Err: "the node's loops did not answer"}
		}
	}
	for _, e := range a.Topics {
		if e.Count != cluster.OutcomeForbidden {
			a.Count++
		}
	}
	return a
}

// changeSubs changes, on their loop, the streams of subs that still live:
// each one's topics, or it is kicked (QueryKick).
func (ls *loopState) changeSubs(l *engine.Loop, q *cluster.Query, subs []conntable.Sub) []cluster.NameCount {
	var out []cluster.NameCount
	for _, sub := range subs {
		s, conn := ls.subscriberOf(sub)
		if s == nil || !s.subscribed || s.mode != modeStream {
			continue
		}
		key := string(ls.s.appendKeyText(nil, ls.keyOf(sub)))
		if q.Op == cluster.QueryKick { // the user policy's oldest-out from another node
			ls.s.counters.userEvicted.Add(1)
			ls.kick(l, sub, s, conn)
			out = append(out, cluster.NameCount{Name: key, Count: cluster.OutcomeChanged})
			continue
		}
		out = append(out, cluster.NameCount{Name: key, Count: ls.changeTopics(sub, s, q)})
	}
	return out
}

// changeTopics adds or removes q's topics of stream s. A subscribe of a
// topic the stream's auth does not allow changes nothing unless forced.
func (ls *loopState) changeTopics(sub conntable.Sub, s *subState, q *cluster.Query) cluster.Outcome {
	if q.Op == cluster.QuerySubscribe && !q.Force {
		user := slices.Clone(ls.subUser(s))
		for _, t := range q.Topics {
			if !ls.topicAllowed(sub, user, []byte(t)) {
				return cluster.OutcomeForbidden
			}
		}
	}
	outcome := cluster.OutcomeSame
	for _, t := range q.Topics {
		m, has := ls.topicMembership(s, []byte(t))
		switch {
		case q.Op == cluster.QuerySubscribe && !has:
			ls.join(sub, s, conntable.Topics, []byte(t))
			outcome = cluster.OutcomeChanged
		case q.Op == cluster.QueryUnsubscribe && has:
			ls.dropMember(s, m)
			name, g, last := ls.s.table.LeaveLast(ls.names[:0], m)
			ls.names = name
			if last {
				ls.s.cluster.left(g, name)
			}
			outcome = cluster.OutcomeChanged
		}
	}
	return outcome
}

// topicMembership finds s's membership of topic.
func (ls *loopState) topicMembership(s *subState, topic []byte) (conntable.Membership, bool) {
	for _, m := range ls.subMembers(s) {
		name, g, ok := ls.s.table.AppendName(ls.names[:0], m)
		ls.names = name
		if ok && g == conntable.Topics && string(name) == string(topic) {
			return m, true
		}
	}
	return 0, false
}

// dropMember forgets membership token m of s (the caller leaves the table):
// the inline slot it held takes the last of the side list, so the inline
// slots fill first as addMember expects; the user's, member[0], never goes.
func (ls *loopState) dropMember(s *subState, m conntable.Membership) {
	var more []conntable.Membership
	if s.more != 0 {
		more = ls.more[s.more-1]
	}
	if i := slices.Index(s.member[:], m); i >= 0 {
		s.member[i] = 0
		if n := len(more); n > 0 {
			s.member[i], more = more[n-1], more[:n-1]
		}
	} else if i := slices.Index(more, m); i >= 0 {
		more = slices.Delete(more, i, i+1)
	}
	if s.more == 0 {
		return
	}
	ls.more[s.more-1] = more
	if len(more) == 0 {
		ls.freeMore = append(ls.freeMore, s.more)
		s.more = 0
	}
}
