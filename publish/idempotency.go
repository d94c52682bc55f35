package publish

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/admit"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
)

// Idempotency keys (SPEC §4, README "Idempotency keys"). A publish with an
// Idempotency-Key header (a batch line: "idempotency_key") claims the key
// before anything is delivered, here or on another node; a later publish
// with the key, within --idempotency-window and through any node, is not
// delivered and gets the first answer plus "duplicate":true.
//
// Standalone the keys live in a bounded map (admit.IdemMemory) and the
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

// IdemOptions are the settings of the node's idempotency keys, kept in
// Redis with --redis, else in memory (standalone, or an in-process test
// cluster: each node its own map); the cluster's start picks which.
func (s *Publisher) IdemOptions() admit.IdemOptions {
	return admit.IdemOptions{Window: s.Cfg.IdempotencyWindow, Hold: min(Hold, s.Cfg.IdempotencyWindow),
		Node: s.ID, Keys: s.Cfg.IdempotencyKeys}
}

// A keyedCall is a keyed publish request handed to the router to claim its
// keys (cluster mode), then back to its loop to be published.
type KeyedCall struct {
	from      engine.Handle
	keepAlive httpcodec.Persist
	batch     bool
	p         Request  // single: the push, its slices into buf
	buf       []byte   // the request's bytes, copied (batch: the body)
	keys      []string // by result index; "" = no key
	claims    []admit.Claim
	claimErr  string // the claim round trip failed: keyed pushes answer 503
}

// publishKeyedNow claims key on the loop (standalone: the keys are in
// memory, nothing waits), publishes the push if the claim is won and
// records its answer there.
func (ls *Publishing) publishKeyedNow(l *engine.Loop, p *Request, key []byte) Result {
	keys := []string{string(key)}
	var c [1]admit.Claim
	ls.s.Idem.Claim(context.Background(), keys, c[:])
	if !c[0].Won {
		return ls.s.claimedResult(c[0])
	}
	res := ls.publish(l, p)
	ls.s.Idem.Record(context.Background(), keys, [][]byte{IdemAnswer(&res)})
	return res
}

// claimedResult is the answer to a publish whose key someone else holds.
func (s *Publisher) claimedResult(c admit.Claim) Result {
	if c.Pending {
		return Result{Status: 409, Err: "a publish with this idempotency key is in progress; retry it in a moment"}
	}
	// "<3-digit status> <JSON object>", as idemAnswer wrote it.
	a := c.Answer
	status, err := strconv.Atoi(string(a[:min(3, len(a))]))
	if len(a) < 6 || a[3] != ' ' || err != nil || status < 100 || status > 599 || a[4] != '{' || a[len(a)-1] != '}' {
		return Result{Status: 503, Err: "the idempotency key holds an answer this node cannot read"}
	}
	obj := a[4:]
	s.Duplicates.Add(1)
	return Result{Status: status, Raw: obj, Duplicate: true}
}

// deferKeyed hands a keyed request to the router to claim its keys; the
// connection waits (modeAsync) as for a routed publish.
func (ls *Publishing) deferKeyed(l *engine.Loop, h engine.Handle, req *httpcodec.Request, call *KeyedCall) {
	call.from, call.keepAlive = h, httpcodec.Persistence(req)
	ls.Live(h).Mode = edge.ModeAsync
	cn := ls.s
	if !cn.Submit(func() { cn.claimKeyed(call) }) {
		ls.s.answerKeyed(call, Result{Status: 503, Err: "cluster router saturated; retry"})
	}
}

// deferSingle copies a keyed single publish for the router.
func (ls *Publishing) deferSingle(l *engine.Loop, h engine.Handle, req *httpcodec.Request, p *Request, key []byte) {
	call := &KeyedCall{keys: []string{string(key)}}
	buf := make([]byte, 0, len(p.Name)+len(p.Event)+len(p.CType)+len(p.Data))
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b):]
	}
	call.p = *p
	call.p.Name, call.p.Event, call.p.CType, call.p.Data = cp(p.Name), cp(p.Event), cp(p.CType), cp(p.Data)
	call.buf = buf
	ls.deferKeyed(l, h, req, call)
}

// deferBatch copies a batch body that carries keys for the router.
func (ls *Publishing) deferBatch(l *engine.Loop, h engine.Handle, req *httpcodec.Request) {
	ls.deferKeyed(l, h, req, &KeyedCall{batch: true, buf: bytes.Clone(req.Body())})
}

// claimKeyed runs on the router: it claims every key of the call in one
// round trip, then has the call's loop publish what it won.
func (cn *Publisher) claimKeyed(call *KeyedCall) {
	s := cn
	if call.batch {
		call.keys = BatchKeys(call.buf)
	}
	var keys []string
	for _, k := range call.keys {
		if k != "" {
			keys = append(keys, k)
		}
	}
	claims := make([]admit.Claim, len(keys))
	// No valid key at all (a batch whose keys are malformed: those lines
	// answer 400) costs no round trip.
	if len(keys) > 0 {
		if err := s.Idem.Claim(cn.Router.LookupContext(time.Now()), keys, claims); err != nil {
			call.claimErr = "idempotency key not claimed, nothing delivered: " + err.Error()
		}
	}
	call.claims = make([]admit.Claim, len(call.keys))
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
			s.answerKeyed(call, Result{Status: 503, Err: call.claimErr})
			return
		case !call.claims[0].Won:
			s.answerKeyed(call, s.claimedResult(call.claims[0]))
			return
		}
	}
	s.Eng.Submit(call.from.Loop(), engine.Task{H: call.from, Op: OpKeyedPublish, V: call})
}

// KeyedPublish runs on the call's loop once its keys are claimed: it
// publishes as an unkeyed request would and hands the result to the router
// to record the keys and answer.
func (ls *Publishing) KeyedPublish(l *engine.Loop, call *KeyedCall) {
	c := ls.Live(call.from)
	if c == nil || c.Mode != edge.ModeAsync {
		// The publisher left: deliver nothing, free the keys.
		ls.s.Submit(func() { ls.s.recordKeys(call.keys, call.claims, nil) })
		return
	}
	var results []Result
	if call.batch {
		ls.keyed = call
		results = ls.publishLines(l, call.buf)
		ls.keyed = nil
	} else {
		ls.resultIndex = 0
		results = append(ls.results[:0], ls.publish(l, &call.p))
		ls.results = results
	}
	ls.FlushFanOut()
	if ls.job == nil {
		ls.job = &RouteJob{}
	}
	ls.job.batch = call.batch
	ls.job.keyed = call
	ls.dispatch(l, call.from, call.keepAlive, results...)
}

// keyedLine publishes a batch line that carries a key, if its claim was
// won (in a cluster the router claimed it; standalone it is claimed here),
// else answers with what holds the key.
func (ls *Publishing) keyedLine(l *engine.Loop, p *Request, key []byte) Result {
	switch call := ls.keyed; {
	case call != nil:
		i := ls.resultIndex
		switch {
		case i >= len(call.keys) || call.keys[i] != string(key):
			return Result{Status: 400, Err: `"idempotency_key" was not read: write the field name without escapes`}
		case call.claimErr != "":
			return Result{Status: 503, Err: call.claimErr}
		case !call.claims[i].Won:
			return ls.s.claimedResult(call.claims[i])
		}
		return ls.publish(l, p)
	case ls.s.PubGlue.Alone():
		return ls.publishKeyedNow(l, p, key)
	default:
		return Result{Status: 400, Err: `"idempotency_key" was not read: write the field name without escapes`}
	}
}

// recordKeys runs on the router: it keeps the answers of the keys the call
// won (results by result index; nil: the publish did not happen), in one
// round trip. A key that could not be recorded is logged: its retry may be
// delivered again.
func (cn *Publisher) recordKeys(keys []string, claims []admit.Claim, results []Result) {
	var won []string
	var answers [][]byte
	for i, k := range keys {
		if k == "" || i >= len(claims) || !claims[i].Won {
			continue
		}
		won = append(won, k)
		var a []byte
		if i < len(results) {
			a = IdemAnswer(&results[i])
		}
		answers = append(answers, a)
	}
	if len(won) == 0 {
		return
	}
	if err := cn.Idem.Record(cn.Router.ForwardContext(time.Now()), won, answers); err != nil {
		cn.Log.Warn("idempotency keys not recorded: a retry may be delivered again", "keys", len(won), "err", err)
	}
}

// answerKeyed answers a keyed call that published nothing.
func (s *Publisher) answerKeyed(call *KeyedCall, r Result) {
	job := &RouteJob{from: call.from, keepAlive: call.keepAlive, results: []Result{r}}
	s.answerRouted(job)
}
