package server

import (
	"slices"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Partial delivery (SPEC §4): a routed push that reached some live
// connection, or was stored, answers 200 (202, 404 as finishStatus says)
// with "unreachable" naming the nodes that may hold the target and were not
// reached; it is 503 only when it reached nobody and some node failed. A
// node whose link was refused or reset (cluster.ErrNodeGone) holds no live
// connection: it is named in "unreachable" while the directory still names
// it, but it is no failure, so it never turns an answer into a 503.

// addFailure records why a node that may hold the target was not reached.
func (r *pushResult) addFailure(why string) {
	if r.failure != "" {
		r.failure += "; "
	}
	r.failure += why
}

// finishRouted gives a routed push its status once every node answered.
func finishRouted(res *pushResult, kind push.Kind) {
	if len(res.unreachable) > 1 {
		slices.Sort(res.unreachable)
		res.unreachable = slices.Compact(res.unreachable)
	}
	if res.status != 0 {
		return
	}
	if res.failure != "" && res.delivered == 0 && !res.stored {
		res.status, res.err = 503, "reached nobody: "+res.failure
		return
	}
	res.status = 200
	finishStatus(res, kind)
}

// appendResultTail appends the optional fields of a push's answer and closes
// its object.
func appendResultTail(dst []byte, r *pushResult) []byte {
	if len(r.unreachable) > 0 {
		dst = append(dst, `,"unreachable":[`...)
		for i, n := range r.unreachable {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = httpcodec.AppendJSONString(dst, []byte(n))
		}
		dst = append(dst, ']')
	}
	if r.duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}
