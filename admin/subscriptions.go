package admin

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
)

// Server-side subscriptions (SPEC §9): POST and DELETE
// /subscriptions/conn/<key>?topic=A&topic=B and /subscriptions/user/<id>?topic=..
// add topics to, or remove them from, live streams: one stream, or every
// stream of the user on every node. The node that takes the call changes
// its own streams (Presence.Change: the glue's, on its loops,
// mesh/subscriptions.go) and asks the nodes the directory names for the
// user (or the node a conn key names) over the query links
// (links/subquery.go), as presence does; the answers merge into one.
// Calls share presence's slots: at most maxPresenceQueries at once.

// ServeSubscriptions answers POST (add) or DELETE (remove) on
// /subscriptions/: bad input at once, a good call on a goroutine of its
// own, its connection held (edge.Answers.Later). The glue answers other
// methods 405.
func (p *Presence) ServeSubscriptions(a edge.Answers, h engine.Handle, req *httpcodec.Request, path []byte) {
	var q links.Query
	q.Op = links.QuerySubscribe
	if string(req.Method()) == "DELETE" {
		q.Op = links.QueryUnsubscribe
	}
	var status int
	var reason string
	_, scratch := a.Scratch()
	*scratch, status, reason = ParseSubscriptions(&q, path, req.Query(), *scratch)
	p.serveQuery(a, h, req, status, reason, func() (int, []byte) { return p.AnswerSubscriptions(&q) }) // presence.go
}

// change runs a changing query on this node's own streams, through the
// glue; a node whose glue gave none changes nothing.
func (p *Presence) change(q *links.Query) links.QueryAnswer {
	if p.Change == nil {
		return links.QueryAnswer{Err: "changing queries are not served here"}
	}
	return p.Change(q)
}

// Ask sends q to node over the query links and waits for its answer, within
// ctx: the per-user connection policy's kicks and checks (userpolicy/admission.go).
func (p *Presence) Ask(ctx context.Context, node string, q *links.Query) (links.QueryAnswer, error) {
	return p.links.Query(ctx, node, q)
}

// answerKind is how a node's answer counts.
type answerKind uint8

const (
	answered answerKind = iota
	notANode            // its heartbeat is gone: it holds nothing and is not named
	nodeGone            // its link is refused or reset: no process there, named, holds nothing
	noAnswer            // it did not answer (stopped, hung, partitioned): named, unknown
)

func (na *nodeAnswer) kind() answerKind {
	switch {
	case na.err == nil && na.a.Err == "":
		return answered
	case errors.Is(na.err, cluster.ErrUnknownNode):
		return notANode
	case errors.Is(na.err, links.ErrNodeGone):
		return nodeGone
	}
	return noAnswer
}

// ParseSubscriptions reads the target from the path and topic= (one or
// more) and force= from the query into q; a non-zero status says why not.
// A user id is unescaped into scratch, returned grown (q.Name is a copy).
func ParseSubscriptions(q *links.Query, path, query, scratch []byte) (_ []byte, status int, reason string) {
	kind, name, ok := bytes.Cut(path[len("/subscriptions/"):], []byte("/"))
	switch {
	case !ok || (string(kind) != "conn" && string(kind) != "user"):
		return scratch, 404, "server-side subscription endpoints are /subscriptions/conn/<key> and /subscriptions/user/<id>"
	case string(kind) == "conn":
		if _, _, ok := push.ParseConnKey(name); !ok {
			return scratch, 404, "no live connection with that key"
		}
		q.Conn, q.Name = true, string(name)
	default:
		var err error
		scratch, err = httpcodec.AppendUnescape(scratch[:0], name)
		if err != nil || !push.ValidName(scratch) {
			return scratch, 400, "the user id must be 1-256 printable bytes, percent-escaped in the path"
		}
		q.Name = string(scratch)
	}
	httpcodec.QueryEach(query, func(key, value []byte) bool {
		v, err := httpcodec.AppendUnescape(nil, value)
		switch {
		case err != nil:
			status, reason = 400, "the query is not validly percent-escaped"
		case string(key) == "topic":
			if !push.ValidName(v) {
				status, reason = 400, "topic "+strconv.Itoa(len(q.Topics)+1)+" is not 1-256 printable bytes without spaces"
			} else if len(q.Topics) == links.MaxChangeTopics {
				status, reason = 400, "at most "+strconv.Itoa(links.MaxChangeTopics)+" topics at once"
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
		return scratch, 400, "name at least one topic: ?topic=<name>"
	}
	return scratch, status, reason
}

// answerSubscriptions changes the streams q names on every node that may
// hold them and merges the nodes' answers into the JSON body.
func (p *Presence) AnswerSubscriptions(q *links.Query) (int, []byte) {
	var answers []nodeAnswer
	var peers []string
	if q.Conn {
		_, node, _ := push.ParseConnKey([]byte(q.Name))
		if node == nil || string(node) == p.node {
			answers = append(answers, nodeAnswer{node: p.node, a: p.change(q)})
		} else if !p.alone() {
			peers = []string{string(node)}
		}
	} else {
		answers = append(answers, nodeAnswer{node: p.node, a: p.change(q)})
		if !p.alone() {
			ctx, cancel := context.WithTimeout(context.Background(), p.lookup)
			ids, err := p.dir.UserNodes(ctx, q.Name)
			cancel()
			if err != nil {
				return 503, httpcodec.AppendErrorObject(nil, "directory unavailable: "+err.Error())
			}
			peers = slices.DeleteFunc(ids, func(id string) bool { return id == p.node })
		}
	}
	answers = append(answers, p.askPeers(q, peers)...)
	return mergeChanges(answers)
}

// fullReason is the error of a subscribe that every stream found refused for its bound.
var fullReason = "a stream holds at most " + strconv.Itoa(links.MaxStreamTopics) + " topics: this subscribe would pass that; unsubscribe some first"

// mergeChanges sums the nodes' answers: {"connections":n,"changed":m,
// "conns":[keys],"forbidden":[keys],"full":[keys],"unreachable":[nodes]}.
// 404 when no stream was found, 403 when every one found refused a topic,
// 409 when every one found is at its bound of topics, 503 when none was
// found and a node that may hold some did not answer.
func mergeChanges(answers []nodeAnswer) (int, []byte) {
	var conns, forbidden, full, unreachable []string
	total, changed, unknown := 0, 0, false
	for _, na := range answers {
		switch na.kind() {
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
			case links.OutcomeForbidden:
				forbidden = append(forbidden, e.Name)
			case links.OutcomeFull:
				full = append(full, e.Name)
			case links.OutcomeChanged:
				changed++
				conns = append(conns, e.Name)
			default:
				conns = append(conns, e.Name)
			}
		}
	}
	slices.Sort(conns)
	slices.Sort(forbidden)
	slices.Sort(full)
	slices.Sort(unreachable)
	body := append([]byte(`{"connections":`), strconv.Itoa(total)...)
	body = append(body, `,"changed":`...)
	body = strconv.AppendInt(body, int64(changed), 10)
	body = appendNodeList(append(body, `,"conns":`...), conns)
	if len(forbidden) > 0 {
		body = appendNodeList(append(body, `,"forbidden":`...), forbidden)
	}
	if len(full) > 0 {
		body = appendNodeList(append(body, `,"full":`...), full)
	}
	if len(unreachable) > 0 {
		body = appendNodeList(append(body, `,"unreachable":`...), unreachable)
	}
	status, reason := 200, ""
	switch {
	case total > 0:
	case len(forbidden) > 0:
		status, reason = 403, "a topic is not allowed for this subscriber by its auth or --topic-acl; force=1 takes it all the same"
	case len(full) > 0:
		status, reason = 409, fullReason
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
