package server

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/bytedance/sonic"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// Idempotency keys (SPEC §4, README "Idempotency keys"). A publish with an
// Idempotency-Key header (a batch line: "idempotency_key") claims the key
// before anything is delivered, here or on another node; a later publish
// with the key, within --idempotency-window and through any node, is not
// delivered and gets the first answer plus "duplicate":true.
//
// Standalone the keys live in a bounded map (cluster.IdemMemory) and the
// whole publish stays on its loop: claim, deliver, record. In a cluster
// the claim is a Redis round trip, so it runs on the router: the loop hands
// the request over (its bytes copied), the router claims, the loop
// publishes as usual, and the router records the answer (or releases the
// key) before the answer is written. A publish without a key never takes
// this path: it pays one header lookup (a batch: one scan of its body), no
// allocation and no round trip (BenchmarkPush*).
//
// Only answers that say the message went somewhere — 200 and 202 — are kept.
// Any other answer (404, 503, a 400 for a bad line) releases the key: a
// retry is a new attempt, as with NATS's Nats-Msg-Id, whose duplicate
// window only holds messages that were stored.

// idemKeyMax is the longest key accepted (SPEC §4).
const idemKeyMax = 128

// idemHold bounds how long a claimed key waits for its first answer: a
// publish's lookups, forwards and QoS store take far less. A node that dies
// holding a claim frees the key after it, so a retry is delivered then.
const idemHold = 10 * time.Second

// batchKeyField is how a batch body that carries keys is told from one that
// does not, by one scan of the body. A line whose field name is escaped
// ("idempotency\u005fkey") escapes the scan: in a cluster it answers 400.
var batchKeyField = []byte(`"idempotency_key"`)

// validIdemKey reports 1-128 URL-safe characters (RFC 3986 unreserved).
func validIdemKey(k []byte) bool {
	if len(k) == 0 || len(k) > idemKeyMax {
		return false
	}
	for _, c := range k {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
		default:
			return false
		}
	}
	return true
}

const badIdemKey = "Idempotency-Key must be 1-128 URL-safe characters (A-Z a-z 0-9 - _ . ~)"

// idemOptions are the settings of the node's idempotency keys, kept in
// Redis with --redis, else in memory (standalone, or an in-process test
// cluster: each node its own map); the cluster's start picks which.
func (s *Server) idemOptions() cluster.IdemOptions {
	return cluster.IdemOptions{Window: s.cfg.IdempotencyWindow, Hold: min(idemHold, s.cfg.IdempotencyWindow),
		Node: s.nodeID, Keys: s.cfg.IdempotencyKeys}
}

// A keyedCall is a keyed publish request handed to the router to claim its
// keys (cluster mode), then back to its loop to be published.
type keyedCall struct {
	from      engine.Handle
	keepAlive httpcodec.Persist
	batch     bool
	p         publishReq // single: the push, its slices into buf
	buf       []byte     // the request's bytes, copied (batch: the body)
	keys      []string   // by result index; "" = no key
	claims    []cluster.Claim
	claimErr  string // the claim round trip failed: keyed pushes answer 503
}

// publishKeyedNow claims key on the loop (standalone: the keys are in
// memory, nothing waits), publishes the push if the claim is won and
// records its answer there.
func (ls *loopState) publishKeyedNow(l *engine.Loop, p *publishReq, key []byte) pushResult {
	keys := []string{string(key)}
	var c [1]cluster.Claim
	ls.s.idem.Claim(context.Background(), keys, c[:])
	if !c[0].Won {
		return ls.s.claimedResult(c[0])
	}
	res := ls.publish(l, p)
	ls.s.idem.Record(context.Background(), keys, [][]byte{idemAnswer(&res)})
	return res
}

// claimedResult is the answer to a publish whose key someone else holds.
func (s *Server) claimedResult(c cluster.Claim) pushResult {
	if c.Pending {
		return pushResult{status: 409, err: "a publish with this idempotency key is in progress; retry it in a moment"}
	}
	// "<3-digit status> <JSON object>", as idemAnswer wrote it.
	a := c.Answer
	status, err := strconv.Atoi(string(a[:min(3, len(a))]))
	if len(a) < 6 || a[3] != ' ' || err != nil || status < 100 || status > 599 || a[4] != '{' || a[len(a)-1] != '}' {
		return pushResult{status: 503, err: "the idempotency key holds an answer this node cannot read"}
	}
	obj := a[4:]
	s.counters.duplicates.Add(1)
	return pushResult{status: status, raw: obj, duplicate: true}
}

// idemAnswer is what a key keeps: "<status> <JSON answer>" for an answer
// that says the message went somewhere; nil (release the key) otherwise.
func idemAnswer(r *pushResult) []byte {
	if r.status != 200 && r.status != 202 {
		return nil
	}
	dst := strconv.AppendInt(nil, int64(r.status), 10)
	return appendPushResult(append(dst, ' '), r, false)
}

// appendRawResult writes a duplicate's first answer with "duplicate":true.
func appendRawResult(dst []byte, r *pushResult, withStatus bool) []byte {
	inner := r.raw[1 : len(r.raw)-1]
	dst = append(dst, '{')
	if withStatus {
		dst = append(dst, `"status":`...)
		dst = strconv.AppendInt(dst, int64(r.status), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, inner...)
	if len(bytes.TrimSpace(inner)) > 0 {
		dst = append(dst, ',')
	}
	return append(dst, `"duplicate":true}`...)
}

// deferKeyed hands a keyed request to the router to claim its keys; the
// connection waits (modeAsync) as for a routed publish.
func (ls *loopState) deferKeyed(l *engine.Loop, h engine.Handle, req *httpcodec.Request, call *keyedCall) {
	call.from, call.keepAlive = h, httpcodec.Persistence(req)
	ls.live(h).mode = modeAsync
	cn := ls.s.cluster
	if !cn.submit(func() { cn.claimKeyed(call) }) {
		ls.s.answerKeyed(call, pushResult{status: 503, err: "cluster router saturated; retry"})
	}
}

// deferSingle copies a keyed single publish for the router.
func (ls *loopState) deferSingle(l *engine.Loop, h engine.Handle, req *httpcodec.Request, p *publishReq, key []byte) {
	call := &keyedCall{keys: []string{string(key)}}
	buf := make([]byte, 0, len(p.name)+len(p.event)+len(p.ctype)+len(p.data))
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b):]
	}
	call.p = *p
	call.p.name, call.p.event, call.p.ctype, call.p.data = cp(p.name), cp(p.event), cp(p.ctype), cp(p.data)
	call.buf = buf
	ls.deferKeyed(l, h, req, call)
}

// deferBatch copies a batch body that carries keys for the router.
func (ls *loopState) deferBatch(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	ls.deferKeyed(l, h, req, &keyedCall{batch: true, buf: bytes.Clone(req.Body())})
}

// claimKeyed runs on the router: it claims every key of the call in one
// round trip, then has the call's loop publish what it won.
func (cn *clusterNode) claimKeyed(call *keyedCall) {
	s := cn.s
	if call.batch {
		call.keys = batchKeys(call.buf)
	}
	var keys []string
	for _, k := range call.keys {
		if k != "" {
			keys = append(keys, k)
		}
	}
	claims := make([]cluster.Claim, len(keys))
	// No valid key at all (a batch whose keys are malformed: those lines
	// answer 400) costs no round trip.
	if len(keys) > 0 {
		if err := s.idem.Claim(cn.router.LookupContext(time.Now()), keys, claims); err != nil {
			call.claimErr = "idempotency key not claimed, nothing delivered: " + err.Error()
		}
	}
	call.claims = make([]cluster.Claim, len(call.keys))
	j := 0
	for i, k := range call.keys {
		if k != "" {
			call.claims[i] = claims[j]
			j++
		}
	}
	if !call.batch {
		switch {
		case call.claimErr != "":
			s.answerKeyed(call, pushResult{status: 503, err: call.claimErr})
			return
		case !call.claims[0].Won:
			s.answerKeyed(call, s.claimedResult(call.claims[0]))
			return
		}
	}
	s.eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: opKeyedPublish, V: call})
}

// batchKeys finds each line's key, as publishBatch numbers lines; lines
// that are not JSON or whose key is not valid get none (they answer 400).
func batchKeys(body []byte) []string {
	var keys []string
	var kl struct {
		Key string `json:"idempotency_key"`
	}
	for len(body) > 0 {
		var line []byte
		line, body = cutLine(body)
		if len(line) == 0 {
			continue
		}
		kl.Key = ""
		if sonic.Unmarshal(line, &kl) != nil || !validIdemKey(viewBytes(kl.Key)) {
			kl.Key = ""
		}
		keys = append(keys, kl.Key)
	}
	return keys
}

// cutLine returns the first line of body, blanks trimmed, and the rest.
func cutLine(body []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(body, []byte("\n"))
	return bytes.TrimSpace(line), rest
}

// keyedPublish runs on the call's loop once its keys are claimed: it
// publishes as an unkeyed request would and hands the result to the router
// to record the keys and answer.
func (ls *loopState) keyedPublish(l *engine.Loop, call *keyedCall) {
	c := ls.live(call.from)
	if c == nil || c.mode != modeAsync {
		// The publisher left: deliver nothing, free the keys.
		ls.s.cluster.submit(func() { ls.s.cluster.recordKeys(call.keys, call.claims, nil) })
		return
	}
	var results []pushResult
	if call.batch {
		ls.keyed = call
		results = ls.publishLines(l, call.buf)
		ls.keyed = nil
	} else {
		ls.resultIndex = 0
		results = append(ls.results[:0], ls.publish(l, &call.p))
		ls.results = results
	}
	ls.flushFanOut()
	if ls.job == nil {
		ls.job = &routeJob{}
	}
	ls.job.batch = call.batch
	ls.job.keyed = call
	ls.dispatch(l, call.from, call.keepAlive, results...)
}

// keyedLine publishes a batch line that carries a key, if its claim was
// won (in a cluster the router claimed it; standalone it is claimed here),
// else answers with what holds the key.
func (ls *loopState) keyedLine(l *engine.Loop, p *publishReq, key []byte) pushResult {
	switch call := ls.keyed; {
	case call != nil:
		i := ls.resultIndex
		switch {
		case i >= len(call.keys) || call.keys[i] != string(key):
			return pushResult{status: 400, err: `"idempotency_key" was not read: write the field name without escapes`}
		case call.claimErr != "":
			return pushResult{status: 503, err: call.claimErr}
		case !call.claims[i].Won:
			return ls.s.claimedResult(call.claims[i])
		}
		return ls.publish(l, p)
	case ls.s.cluster.alone():
		return ls.publishKeyedNow(l, p, key)
	default:
		return pushResult{status: 400, err: `"idempotency_key" was not read: write the field name without escapes`}
	}
}

// recordKeys runs on the router: it keeps the answers of the keys the call
// won (results by result index; nil: the publish did not happen), in one
// round trip. A key that could not be recorded is logged: its retry may be
// delivered again.
func (cn *clusterNode) recordKeys(keys []string, claims []cluster.Claim, results []pushResult) {
	var won []string
	var answers [][]byte
	for i, k := range keys {
		if k == "" || i >= len(claims) || !claims[i].Won {
			continue
		}
		won = append(won, k)
		var a []byte
		if i < len(results) {
			a = idemAnswer(&results[i])
		}
		answers = append(answers, a)
	}
	if len(won) == 0 {
		return
	}
	if err := cn.s.idem.Record(cn.router.ForwardContext(time.Now()), won, answers); err != nil {
		cn.s.log.Warn("idempotency keys not recorded: a retry may be delivered again", "keys", len(won), "err", err)
	}
}

// answerKeyed answers a keyed call that published nothing.
func (s *Server) answerKeyed(call *keyedCall, r pushResult) {
	job := &routeJob{from: call.from, keepAlive: call.keepAlive, results: []pushResult{r}}
	s.answerRouted(job)
}
