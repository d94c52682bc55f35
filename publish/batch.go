package publish

import (
	"bytes"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/decoder"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// batchLine is one input line of POST /pub. sonic decodes into it without
// copying: the strings and Data are views into the request body, valid while
// the line is handled.
type batchLine struct {
	To    string                 `json:"to"`
	Data  sonic.NoCopyRawMessage `json:"data"`
	Event string                 `json:"event"`
	QoS   int                    `json:"qos"`
	TTL   int                    `json:"ttl"`
	Key   *string                `json:"idempotency_key"` // nil without one: no allocation
}

// PublishBatch answers POST /pub: NDJSON lines in, one NDJSON result line per
// input line out, in order (SPEC §4). Blank lines are skipped and get no
// result line. Deliveries for other loops go out in one hand-over per loop
// after the last line.
func (ls *Publishing) PublishBatch(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	if req.Header("Idempotency-Key") != nil {
		// Silently ignoring it would let a publisher believe its retry is safe.
		ls.AnswerError(l, h, req, 400, `a batch takes a key per line ("idempotency_key"), not an Idempotency-Key header`)
		return
	}
	if !ls.s.PubGlue.Alone() && bytes.Contains(req.Body(), BatchKeyField) {
		ls.deferBatch(l, h, req) // keys to claim in Redis first (idempotency.go)
		return
	}
	results := ls.publishLines(l, req.Body())
	ls.FlushFanOut()
	if ls.job != nil {
		ls.job.batch = true
		ls.dispatch(l, h, httpcodec.Persistence(req), results...)
		return
	}
	ls.s.countResults(results)
	out := ls.Frame[:0]
	for i := range results {
		out = AppendResult(out, &results[i], true)
		out = append(out, '\n')
	}
	ls.Frame = out
	dst := httpcodec.AppendResponseHead(ls.Out[:0], 200, httpcodec.Persistence(req))
	ls.Out = httpcodec.AppendBody(dst, "application/x-ndjson", out)
	ls.Reply(l, h, ls.Out)
}

// publishLines publishes each line of a batch body; its results are
// ls.results, one per line that is not blank.
func (ls *Publishing) publishLines(l *engine.Loop, body []byte) []Result {
	results := ls.results[:0]
	for len(body) > 0 {
		var line []byte
		line, body = CutLine(body)
		if len(line) == 0 {
			continue
		}
		ls.resultIndex = len(results)
		results = append(results, ls.publishLine(l, line))
	}
	ls.results = results
	return results
}

// publishLine decodes and publishes one batch line.
func (ls *Publishing) publishLine(l *engine.Loop, line []byte) Result {
	bl := &ls.batchLine
	*bl = batchLine{}
	// One decoder per loop, reset for each line: sonic.Unmarshal builds a
	// decoder per call, two allocations a pushed message
	// (BenchmarkPushBatch).
	if ls.dec == nil {
		ls.dec = decoder.NewDecoder("")
	}
	ls.dec.Reset(unsafe.String(unsafe.SliceData(line), len(line)))
	if err := ls.dec.Decode(bl); err != nil || ls.dec.CheckTrailings() != nil || len(bl.Data) == 0 {
		return Result{Status: 400, Err: `a line must be a JSON object with "to" and "data"`}
	}
	var p Request
	var ok bool
	if p.Kind, p.Name, ok = push.ParseAddress(ViewBytes(bl.To)); !ok {
		return Result{Status: 400, Err: `"to" must be conn:<key>, user:<id>, topic:<name> or all`}
	}
	if bl.Event != "" && !push.ValidName(ViewBytes(bl.Event)) {
		return Result{Status: 400, Err: `"event" must be 1-256 printable bytes without spaces`}
	}
	p.Event = ViewBytes(bl.Event)
	switch bl.QoS {
	case 0, 1:
		p.QoS = uint8(bl.QoS)
	default:
		return Result{Status: 400, Err: `"qos" must be 0 or 1`}
	}
	p.TTL = ls.s.Cfg.DefaultTTL
	if bl.TTL < 0 {
		return Result{Status: 400, Err: `"ttl" must be a whole number of seconds above 0`}
	} else if bl.TTL > 0 {
		p.TTL = secondsDuration(bl.TTL)
	}
	p.Data = bl.Data
	if len(p.Data) > ls.s.Cfg.MaxMessageBytes {
		return Result{Status: 413, Err: "data larger than --max-message-bytes"}
	}
	p.JSON = utf8.Valid(p.Data) // sonic checked the syntax, not the UTF-8
	p.CType = ctypeJSON
	if bl.Key != nil {
		if !ValidKey(ViewBytes(*bl.Key)) {
			return Result{Status: 400, Err: `"idempotency_key" must be 1-128 URL-safe characters (A-Z a-z 0-9 - _ . ~)`}
		}
		return ls.keyedLine(l, &p, ViewBytes(*bl.Key))
	}
	return ls.publish(l, &p)
}

// ViewBytes returns the bytes of s without copying. sonic's no-copy decoding
// makes the batch line's strings views of the request body, so this is a
// view of the body again; the bytes are never written.
func ViewBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ctypeJSON is the Content-Type of a batch line's data, JSON by definition.
var ctypeJSON = []byte("application/json")
