package publish

import (
	"slices"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Partial delivery (SPEC §4): a routed push that reached some live
// connection, or was stored, answers 200 (202, 404 as FinishStatus says)
// with "unreachable" naming the nodes that may hold the target and were not
// reached; it is 503 only when it reached nobody and some node failed. A
// node whose link was refused or reset (links.ErrNodeGone) holds no live
// connection: it is named in "unreachable" while the directory still names
// it, but it is no failure, so it never turns an answer into a 503.

// AddFailure records why a node that may hold the target was not reached.
func (r *Result) AddFailure(why string) {
	if r.Failure != "" {
		r.Failure += "; "
	}
	r.Failure += why
}

// FinishRouted gives a routed push its status once every node answered.
func FinishRouted(res *Result, kind push.Kind) {
	if len(res.Unreachable) > 1 {
		slices.Sort(res.Unreachable)
		res.Unreachable = slices.Compact(res.Unreachable)
	}
	if res.Status != 0 {
		return
	}
	if res.Failure != "" && res.Delivered == 0 && !res.Stored {
		res.Status, res.Err = 503, "reached nobody: "+res.Failure
		return
	}
	res.Status = 200
	FinishStatus(res, kind)
}

// appendResultTail appends the optional fields of a push's answer and closes
// its object.
func appendResultTail(dst []byte, r *Result) []byte {
	if len(r.Unreachable) > 0 {
		dst = append(dst, `,"unreachable":[`...)
		for i, n := range r.Unreachable {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = httpcodec.AppendJSONString(dst, []byte(n))
		}
		dst = append(dst, ']')
	}
	if r.Duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}
