package links

import (
	"context"
	"encoding/binary"
)

// Presence queries (SPEC §9): a node asks a peer for its local counts over a link. The
// frames (see frame.go for the header) are
//
//	query  (type 4): corr uint64 | op uint8 | limit uvarint | name (rest)
//	answer (type 5): corr uint64 | count uvarint | uvarint+error text |
//	                 entries, to the end: uvarint+name | count uvarint
//
// A query is answered by an answer frame, in order with the push results of its link. A node
// from before queries existed ends the link on a query frame (unknown type), so the server
// sends queries on Links of their own: such a node shows as unreachable to a presence query
// and its push link is untouched.
const (
	typeQuery       = 4
	typeQueryAnswer = 5
)

// QueryOp is what a Query asks a node for.
type QueryOp uint8

const (
	// QueryUser asks for the number of live connections of user Name.
	QueryUser QueryOp = iota + 1
	// QueryTopic asks for the number of subscribers of topic Name.
	QueryTopic
	// QueryTopics asks for the topics whose names start with Name: Count is how many the node
	// has, Topics the first Limit of them in byte order, each with its subscriber count.
	QueryTopics
	// QuerySubscribe, QueryUnsubscribe and QueryKick change a node's subscribers rather than
	// count them (server-side subscriptions and the per-user connection policy): see
	// subquery.go.
	QuerySubscribe
	QueryUnsubscribe
	QueryKick
	QueryHolds
)

// MaxQueryLimit bounds Query.Limit, and so the size of an answer frame (256-byte names).
const MaxQueryLimit = 1000

// Query asks one node for its local counts.
type Query struct {
	Op    QueryOp
	Name  string // user id, topic name, topic name prefix (QueryTopics; may be empty), or conn key
	Limit int    // QueryTopics: most entries to return, 1..MaxQueryLimit

	// The changing ops only (subquery.go):
	Conn   bool     // Name is a conn key, not a user id
	Force  bool     // topics the subscriber's auth did not allow are taken all the same
	Topics []string // the topics to add or remove
}

// NameCount is one topic of a QueryTopics answer.
type NameCount struct {
	Name  string
	Count int
}

// QueryAnswer is a node's answer to a Query.
type QueryAnswer struct {
	Count  int         // connections, subscribers, or matching topics (QueryTopics)
	Topics []NameCount // QueryTopics only: sorted by name, at most Limit
	Err    string      // non-empty when the node could not answer
}

// QueryHandler answers a peer's Query from the node's own table. It runs on the link's reader
// goroutine (off the event loops), so it must bound the time it holds any lock.
type QueryHandler func(q *Query) QueryAnswer

func querySize(q *Query) int {
	return frameHeader + 9 + binary.MaxVarintLen64 + len(q.Name) + changeSize(q)
}

func appendQuery(dst []byte, corr uint64, q *Query) []byte {
	dst, at := beginFrame(dst, typeQuery)
	dst = binary.BigEndian.AppendUint64(dst, corr)
	dst = append(dst, byte(q.Op))
	dst = binary.AppendUvarint(dst, uint64(max(q.Limit, 0)))
	if q.Op >= QuerySubscribe {
		return endFrame(appendChange(dst, q), at)
	}
	return endFrame(append(dst, q.Name...), at)
}

// decodeQuery reads a query body; an unknown op is an error, a limit out of range is clamped.
func decodeQuery(body []byte) (corr uint64, q Query, err error) {
	if len(body) < 10 {
		return 0, q, errBadFrame
	}
	corr = binary.BigEndian.Uint64(body)
	q.Op = QueryOp(body[8])
	if q.Op < QueryUser || q.Op > QueryHolds {
		return 0, q, errBadFrame
	}
	n, k := binary.Uvarint(body[9:])
	if k <= 0 {
		return 0, q, errBadFrame
	}
	q.Limit = int(min(n, MaxQueryLimit))
	if q.Op >= QuerySubscribe {
		return corr, q, decodeChange(body[9+k:], &q)
	}
	q.Name = string(body[9+k:])
	return corr, q, nil
}

func appendQueryAnswer(dst []byte, corr uint64, a *QueryAnswer) []byte {
	dst, at := beginFrame(dst, typeQueryAnswer)
	dst = binary.BigEndian.AppendUint64(dst, corr)
	dst = binary.AppendUvarint(dst, uint64(max(a.Count, 0)))
	dst = appendStr(dst, a.Err)
	for _, t := range a.Topics {
		dst = appendStr(dst, t.Name)
		dst = binary.AppendUvarint(dst, uint64(max(t.Count, 0)))
	}
	return endFrame(dst, at)
}

func decodeQueryAnswer(body []byte) (corr uint64, a QueryAnswer, err error) {
	if len(body) < 10 {
		return 0, a, errBadFrame
	}
	corr = binary.BigEndian.Uint64(body)
	b := body[8:]
	if a.Count, b, err = takeCount(b); err != nil {
		return 0, a, err
	}
	var f []byte
	if f, b, err = takeStr(b); err != nil {
		return 0, a, err
	}
	a.Err = string(f)
	for len(b) > 0 {
		var e NameCount
		if f, b, err = takeStr(b); err != nil {
			return 0, a, err
		}
		if e.Count, b, err = takeCount(b); err != nil {
			return 0, a, err
		}
		e.Name = string(f)
		a.Topics = append(a.Topics, e)
	}
	return corr, a, nil
}

func takeCount(b []byte) (int, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1<<31 {
		return 0, nil, errBadFrame
	}
	return int(n), b[k:], nil
}

// Query sends q to nodeID and waits for its answer; ctx bounds the wait, so a node that holds
// its link open but never answers (stopped, hung) costs the caller ctx's deadline, no more.
// Errors are those of ForwardBatch.
func (l *Links) Query(ctx context.Context, nodeID string, q *Query) (QueryAnswer, error) {
	k, err := l.link(nodeID)
	if err != nil {
		return QueryAnswer{}, err
	}
	c := &call{res: make([]Result, 1), query: q, done: make(chan struct{})}
	if err := k.enqueue(ctx, nil, c); err != nil {
		return QueryAnswer{}, err
	}
	select {
	case <-c.done:
		// After done the reader no longer touches c.
		if c.err != nil {
			return QueryAnswer{}, c.err
		}
		return c.answer, nil
	case <-ctx.Done():
		return QueryAnswer{}, ctx.Err()
	}
}
