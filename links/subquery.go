package links

import (
	"encoding/binary"
)

// Changing queries: a node asks a peer to change its own subscribers over the same query
// links as presence (query.go), with the same frames (types 4 and 5), the body after the
// limit field being
//
//	flags uint8 (bit 0: Conn, bit 1: Force) | uvarint+Name | (uvarint+topic)*
//
// QuerySubscribe and QueryUnsubscribe add or remove Topics of every stream of user Name on
// the node (or of the stream whose conn key is Name, Conn set): server-side subscriptions
// (SPEC §9). QueryKick ends the stream whose conn key is Name with the kicked control frame:
// the per-user connection policy's oldest-out, when the oldest is on another node. QueryHolds
// changes nothing: its answer's Count is 1 when the stream whose conn key is Name lives on the
// node (or is about to: admitted, not yet started), else 0; the policy asks it before it drops
// a key another node may have failed to take out.
//
// The answer's Count is the streams the change applied to, and its Topics list each stream
// the node looked at: Name its conn key, Count its Outcome. A node from before these ops ends
// the link on one (an unknown op is a bad frame), which the asking node reports as that node
// unreachable; pushes ride other links and are untouched.

// Outcome is what a changing query did to one stream, in QueryAnswer.Topics[i].Count.
type Outcome = int

const (
	// OutcomeSame: the stream already had (subscribe) or lacked (unsubscribe) every topic.
	OutcomeSame Outcome = 0
	// OutcomeChanged: at least one topic was added or removed.
	OutcomeChanged Outcome = 1
	// OutcomeForbidden: the stream's auth does not allow a topic asked for and Force was not
	// set; nothing was changed on it.
	OutcomeForbidden Outcome = 2
	// OutcomeFull: the subscribe would give the stream more than MaxStreamTopics topics;
	// nothing was changed on it. (A node from before it reads a stream found.)
	OutcomeFull Outcome = 3
)

// MaxStreamTopics bounds the topics one stream holds: what a subscribe and then server-side
// subscribes may give it, and what an upgrade's record carries (handoff.MaxTopics), so that
// every stream can move.
const MaxStreamTopics = 4096

const (
	changeConn  = 1
	changeForce = 2
)

// MaxChangeTopics bounds the topics of one changing query, as a subscribe's (SPEC §3).
const MaxChangeTopics = 64

func changeSize(q *Query) int {
	if q.Op < QuerySubscribe {
		return 0
	}
	n := 1 + binary.MaxVarintLen64
	for _, t := range q.Topics {
		n += binary.MaxVarintLen64 + len(t)
	}
	return n
}

func appendChange(dst []byte, q *Query) []byte {
	var flags byte
	if q.Conn {
		flags |= changeConn
	}
	if q.Force {
		flags |= changeForce
	}
	dst = appendStr(append(dst, flags), q.Name)
	for _, t := range q.Topics {
		dst = appendStr(dst, t)
	}
	return dst
}

// decodeChange reads the body of a changing query after its limit into q; unknown flag bits
// and more than MaxChangeTopics topics are errors.
func decodeChange(b []byte, q *Query) error {
	if len(b) < 1 || b[0]&^(changeConn|changeForce) != 0 {
		return errBadFrame
	}
	q.Conn, q.Force = b[0]&changeConn != 0, b[0]&changeForce != 0
	f, b, err := takeStr(b[1:])
	if err != nil {
		return err
	}
	q.Name = string(f)
	for len(b) > 0 {
		if len(q.Topics) == MaxChangeTopics {
			return errBadFrame
		}
		if f, b, err = takeStr(b); err != nil {
			return err
		}
		q.Topics = append(q.Topics, string(f))
	}
	return nil
}
