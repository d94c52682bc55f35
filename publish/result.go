package publish

import (
	"bytes"
	"strconv"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Result is the answer of SPEC §4 for one push.
type Result struct {
	Status    int
	ID        uint64
	Delivered int
	Nodes     int
	Stored    bool
	Duplicate bool   // the answer of an earlier publish with the same Idempotency-Key
	Raw       []byte // a duplicate's first answer, a JSON object, written as is
	Err       string
	// Set by the router only (partial.go): the nodes that may hold the target
	// and were not reached, and why, when that is a failure.
	Unreachable []string
	Failure     string
}

// FinishStatus applies SPEC §4 to a push's counts: 202 when a QoS 1 message
// waits for an offline user, 404 when a conn or user has no live connection.
func FinishStatus(res *Result, kind push.Kind) {
	switch {
	case res.Status != 200:
	case res.Delivered == 0 && res.Stored && kind == push.User:
		res.Status = 202
	case res.Delivered == 0 && (kind == push.Conn || kind == push.User):
		res.Status, res.Err = 404, "no live connection"
	}
}

// AppendResult appends the JSON answer of SPEC §4; withStatus adds the
// "status" field the batch answer carries.
func AppendResult(dst []byte, r *Result, withStatus bool) []byte {
	if r.Raw != nil {
		return appendRawResult(dst, r, withStatus)
	}
	dst = append(dst, '{')
	if withStatus {
		dst = append(dst, `"status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
		dst = append(dst, ',')
	}
	if r.Err != "" {
		dst = append(dst, `"error":`...)
		dst = httpcodec.AppendJSONString(dst, []byte(r.Err))
		return appendResultTail(dst, r)
	}
	dst = append(dst, `"id":"`...)
	dst = strconv.AppendUint(dst, r.ID, 10)
	dst = append(dst, `","delivered":`...)
	dst = strconv.AppendInt(dst, int64(r.Delivered), 10)
	dst = append(dst, `,"nodes":`...)
	dst = strconv.AppendInt(dst, int64(r.Nodes), 10)
	dst = append(dst, `,"stored":`...)
	dst = strconv.AppendBool(dst, r.Stored)
	return appendResultTail(dst, r)
}

// IdemAnswer is what a key keeps: "<status> <JSON answer>" for an answer
// that says the message went somewhere; nil (release the key) otherwise.
func IdemAnswer(r *Result) []byte {
	if r.Status != 200 && r.Status != 202 {
		return nil
	}
	dst := strconv.AppendInt(nil, int64(r.Status), 10)
	return AppendResult(append(dst, ' '), r, false)
}

// appendRawResult writes a duplicate's first answer with "duplicate":true.
func appendRawResult(dst []byte, r *Result, withStatus bool) []byte {
	inner := r.Raw[1 : len(r.Raw)-1]
	dst = append(dst, '{')
	if withStatus {
		dst = append(dst, `"status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, inner...)
	if len(bytes.TrimSpace(inner)) > 0 {
		dst = append(dst, ',')
	}
	return append(dst, `"duplicate":true}`...)
}
