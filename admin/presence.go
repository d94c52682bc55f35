package admin

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
)

// Presence (SPEC §9): GET /presence/user/<id>, /presence/topic/<name> and
// /topics?prefix=&limit= answer cluster-wide from any node. The directory
// says which nodes hold a user or topic (every node, for /topics); each of
// them is asked for its own counts over a query link (links/query.go), and
// this node reads its own table. A query runs on a goroutine of its own and
// its answer comes back to the loop like /metrics', so no loop waits on a
// peer or walks a table; the table walks release their shard lock every few
// records (conntable/presence.go), so pushes do not wait on them either.

const (
	// presenceTimeout bounds the wait for the nodes' answers: a node that has
	// not answered by then is named in "unreachable".
	presenceTimeout = time.Second
	// maxPresenceQueries bounds the queries running at once on a node; one
	// more is answered 503 rather than queued.
	maxPresenceQueries = 64
	// defaultTopicsLimit is /topics' limit when none is given.
	defaultTopicsLimit = 100
)

// Presence is a node's presence half: its own table, the directory, links
// of their own to the peers (a peer from before queries existed ends a link
// on one, and a push link must not pay for that; nor need pushes queue
// behind a table walk on a peer) and the slots that bound the queries
// running at once. The glue makes one per cluster start (mesh/cluster.go)
// and answers the endpoints on its loops (server/presence.go).
type Presence struct {
	node  string
	table *conntable.Table
	dir   cluster.Directory
	alone func() bool // no other node can hold anything (standalone)
	// lookup bounds the directory lookup of the nodes to ask: the glue's
	// bound on its routing lookups (mesh/cluster.go lookupTimeout).
	lookup time.Duration
	links  *links.Links
	slots  chan struct{}

	// Change runs a changing query (links/subquery.go) on this node's own
	// streams: server-side subscriptions (subscriptions.go) and the per-user
	// connection policy's kicks and checks. The glue sets it before the
	// link server starts (mesh/cluster.go); nil: none are served.
	Change func(q *links.Query) links.QueryAnswer
}

// NewPresence makes node's presence half; lookup bounds its directory
// lookups.
func NewPresence(node string, table *conntable.Table, dir cluster.Directory, alone func() bool, lookup time.Duration, log *slog.Logger) *Presence {
	return &Presence{
		node: node, table: table, dir: dir, alone: alone, lookup: lookup,
		links: links.NewLinks(node, dir, links.LinkOptions{Logger: log}),
		slots: make(chan struct{}, maxPresenceQueries),
	}
}

// Close closes the query links.
func (p *Presence) Close() { p.links.Close() }

// Acquire takes a slot for one query; false when maxPresenceQueries run
// already (answer 503). Release gives it back.
func (p *Presence) Acquire() bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release: see Acquire.
func (p *Presence) Release() { <-p.slots }

// ParsePresence reads the path and query of a presence request into q; a
// non-zero status says why not. The name is unescaped into scratch, returned
// grown (q.Name is a copy: it outlives the request's bytes).
func ParsePresence(q *links.Query, path, query, scratch []byte) (_ []byte, status int, reason string) {
	if string(path) == "/topics" {
		status, reason = ParseTopicsQuery(q, query)
		return scratch, status, reason
	}
	kind, name, ok := bytes.Cut(path[len("/presence/"):], []byte("/"))
	switch {
	case !ok:
		return scratch, 404, "presence endpoints are /presence/user/<id> and /presence/topic/<name>"
	case string(kind) == "user":
		q.Op = links.QueryUser
	case string(kind) == "topic":
		q.Op = links.QueryTopic
	default:
		return scratch, 404, "presence endpoints are /presence/user/<id> and /presence/topic/<name>"
	}
	var err error
	scratch, err = httpcodec.AppendUnescape(scratch[:0], name)
	if err != nil || !push.ValidName(scratch) {
		return scratch, 400, "the " + string(kind) + " name must be 1-256 printable bytes, percent-escaped in the path"
	}
	q.Name = string(scratch)
	return scratch, 0, ""
}

// ParseTopicsQuery reads /topics' prefix (may be empty: every topic) and
// limit (1..links.MaxQueryLimit, default defaultTopicsLimit).
func ParseTopicsQuery(q *links.Query, query []byte) (int, string) {
	q.Op, q.Limit = links.QueryTopics, defaultTopicsLimit
	status, reason := 0, ""
	httpcodec.QueryEach(query, func(key, value []byte) bool {
		v, err := httpcodec.AppendUnescape(nil, value)
		switch {
		case err != nil:
			status, reason = 400, "the query is not validly percent-escaped"
		case string(key) == "prefix":
			if len(v) > 0 && !push.ValidName(v) {
				status, reason = 400, "prefix must be at most 256 printable bytes without spaces"
			}
			q.Name = string(v)
		case string(key) == "limit":
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 || n > links.MaxQueryLimit {
				status, reason = 400, "limit must be a whole number from 1 to "+strconv.Itoa(links.MaxQueryLimit)
			}
			q.Limit = n
		}
		return status == 0
	})
	return status, reason
}

// AnswerQuery is the link server's query handler: this node's own counts.
// It runs on the asking peer's query link goroutine.
func (p *Presence) AnswerQuery(q *links.Query) links.QueryAnswer {
	if q.Op >= links.QuerySubscribe {
		return p.change(q) // subscriptions.go
	}
	t := p.table
	switch q.Op {
	case links.QueryUser:
		return links.QueryAnswer{Count: t.Count(conntable.Users, viewBytes(q.Name))}
	case links.QueryTopic:
		return links.QueryAnswer{Count: t.Count(conntable.Topics, viewBytes(q.Name))}
	}
	first, matched := t.NamesWithPrefix(conntable.Topics, viewBytes(q.Name), q.Limit)
	a := links.QueryAnswer{Count: matched, Topics: make([]links.NameCount, len(first))}
	for i, nc := range first {
		a.Topics[i] = links.NameCount{Name: nc.Name, Count: nc.Count}
	}
	return a
}

// nodeAnswer is one node's part of a presence answer.
type nodeAnswer struct {
	node string
	a    links.QueryAnswer
	err  error
}

// Answer asks every node that may hold q's target and merges their
// answers into the JSON body of SPEC §9.
func (p *Presence) Answer(q *links.Query) (int, []byte) {
	answers := []nodeAnswer{{node: p.node, a: p.AnswerQuery(q)}}
	if !p.alone() {
		peers, err := p.presenceNodes(q)
		if err != nil {
			return 503, httpcodec.AppendErrorObject(nil, "directory unavailable: "+err.Error())
		}
		answers = append(answers, p.askPeers(q, peers)...)
	}
	var unreachable []string
	peerKnown := false // some peer's count is known (an answer, or gone: none)
	for i := range answers {
		switch na := &answers[i]; na.kind() { // subscriptions.go
		case answered:
			peerKnown = peerKnown || i > 0
		case notANode:
			na.a = links.QueryAnswer{} // its heartbeat is gone: no longer a node
		case nodeGone:
			// No process there: it holds nothing. Named while the directory
			// still lists it, as for pushes (SPEC §4), but its count is known.
			unreachable = append(unreachable, na.node)
			na.a, peerKnown = links.QueryAnswer{}, true
		default:
			unreachable = append(unreachable, na.node)
			na.a = links.QueryAnswer{}
		}
	}
	slices.Sort(unreachable)
	var body []byte
	if q.Op == links.QueryTopics {
		body = appendTopics(nil, q.Limit, answers)
	} else {
		body = appendPresenceCount(nil, q, answers)
	}
	if len(unreachable) == 0 {
		return 200, body
	}
	body = appendNodeList(append(body[:len(body)-1], `,"unreachable":`...), unreachable)
	// The directory names nodes that may hold the user or topic, none of them
	// answered and this node has none: the count would say nothing, so the
	// answer is 503, as a publish that reached nobody (SPEC §4).
	if q.Op != links.QueryTopics && !peerKnown && answers[0].a.Count == 0 {
		return 503, append(body, `,"error":"no node that may hold it answered"}`...)
	}
	return 200, append(body, '}')
}

// presenceNodes returns the nodes other than this one to ask: those the
// directory lists for the user or topic, every live node for /topics.
func (p *Presence) presenceNodes(q *links.Query) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.lookup)
	defer cancel()
	var ids []string
	var err error
	switch q.Op {
	case links.QueryUser:
		ids, err = p.dir.UserNodes(ctx, q.Name)
	case links.QueryTopic:
		ids, err = p.dir.TopicNodes(ctx, q.Name)
	default:
		var nodes []cluster.Node
		nodes, err = p.dir.Nodes(ctx)
		for _, n := range nodes {
			ids = append(ids, n.ID)
		}
	}
	return slices.DeleteFunc(ids, func(id string) bool { return id == p.node }), err
}

// askPeers sends q to every peer at once and waits up to presenceTimeout.
func (p *Presence) askPeers(q *links.Query, peers []string) []nodeAnswer {
	out := make([]nodeAnswer, len(peers))
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, id := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := p.links.Query(ctx, id, q)
			out[i] = nodeAnswer{node: id, a: a, err: err}
		}()
	}
	wg.Wait()
	return out
}

// appendPresenceCount appends {"user","online","connections","nodes"} or
// {"topic","subscribers","nodes"}: the sum of the nodes' counts and, sorted,
// the nodes that have some.
func appendPresenceCount(dst []byte, q *links.Query, answers []nodeAnswer) []byte {
	total := 0
	var nodes []string
	for _, na := range answers {
		if na.a.Count > 0 {
			total += na.a.Count
			nodes = append(nodes, na.node)
		}
	}
	slices.Sort(nodes)
	if q.Op == links.QueryUser {
		dst = append(dst, `{"user":`...)
		dst = httpcodec.AppendJSONString(dst, viewBytes(q.Name))
		dst = append(dst, `,"online":`...)
		dst = strconv.AppendBool(dst, total > 0)
		dst = append(dst, `,"connections":`...)
	} else {
		dst = append(dst, `{"topic":`...)
		dst = httpcodec.AppendJSONString(dst, viewBytes(q.Name))
		dst = append(dst, `,"subscribers":`...)
	}
	dst = strconv.AppendInt(dst, int64(total), 10)
	dst = appendNodeList(append(dst, `,"nodes":`...), nodes)
	return append(dst, '}')
}

// appendTopics appends {"topics":[{"topic","subscribers"}...],"truncated"}:
// the first limit names of the union, by byte order, with their counts
// summed. Each node sent its own first limit, so every name among the
// union's first limit came from every node that has it: the sums are whole.
func appendTopics(dst []byte, limit int, answers []nodeAnswer) []byte {
	sums := map[string]int{}
	truncated := false
	for _, na := range answers {
		for _, t := range na.a.Topics {
			sums[t.Name] += t.Count
		}
		truncated = truncated || na.a.Count > len(na.a.Topics)
	}
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.SortFunc(names, strings.Compare)
	if len(names) > limit {
		names, truncated = names[:limit], true
	}
	dst = append(dst, `{"topics":[`...)
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"topic":`...)
		dst = httpcodec.AppendJSONString(dst, viewBytes(name))
		dst = append(dst, `,"subscribers":`...)
		dst = strconv.AppendInt(dst, int64(sums[name]), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"truncated":`...)
	dst = strconv.AppendBool(dst, truncated)
	return append(dst, '}')
}

func appendNodeList(dst []byte, ids []string) []byte {
	dst = append(dst, '[')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = httpcodec.AppendJSONString(dst, viewBytes(id))
	}
	return append(dst, ']')
}

// viewBytes views s as bytes without a copy; the bytes must not be changed.
func viewBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Serve answers the presence endpoints. Bad input is answered at once; a
// good request goes to a goroutine of its own, its connection held
// (edge.Answers.Later), and its answer comes back to the loop like
// /metrics', so no loop waits on a peer or walks a table.
func (p *Presence) Serve(a edge.Answers, h engine.Handle, req *httpcodec.Request, path []byte) {
	var q links.Query // its Name is a copy: it outlives the request's bytes
	var status int
	var reason string
	_, scratch := a.Scratch()
	*scratch, status, reason = ParsePresence(&q, path, req.Query(), *scratch)
	p.serveQuery(a, h, req, status, reason, func() (int, []byte) { return p.Answer(&q) })
}

// serveQuery answers a parsed request: a non-zero status at once, else
// answer's on a goroutine of its own, within the bound on queries at once
// (presence and server-side subscriptions share it).
func (p *Presence) serveQuery(a edge.Answers, h engine.Handle, req *httpcodec.Request, status int, reason string, answer func() (int, []byte)) {
	if status != 0 {
		answerError(a, h, req, status, reason)
		return
	}
	if !p.Acquire() {
		answerError(a, h, req, 503, "too many presence or subscription queries at once on this node; retry")
		return
	}
	persist, reply := a.Later(h, req)
	go func() {
		defer p.Release()
		status, body := answer()
		reply(httpcodec.AppendJSONResponse(nil, status, persist, body))
	}()
}
