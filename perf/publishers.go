package perf

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// PubConfig shapes the publishing side.
type PubConfig struct {
	// Conns is the number of keep-alive connections (publishers).
	Conns int
	// Pipeline > 1 sends that many requests back to back on each connection before the
	// answers come (fasthttp.PipelineClient): one request at a time cannot load a server
	// faster than ~60k req/s on one core here (peers/nchan/README.md).
	Pipeline int
	// Batch > 1 packs that many messages into one pushwire POST /pub (NDJSON).
	Batch int
	// Rate caps messages per second over all publishers; 0 sends as fast as answers come.
	Rate float64
	// RawPipeline pipelines with pushbench's own lean client (rawPipe) instead of
	// fasthttp.PipelineClient: a window of Pipeline requests per write.
	RawPipeline bool
	// Size pads each payload to this many bytes.
	Size int
	// Timeout bounds each request's write and answer (default 10 s).
	Timeout time.Duration
}

// PubResult counts what the publishers did. Start and End are monotonic ns.
type PubResult struct {
	Messages int64         `json:"messages"` // messages attempted
	OK       int64         `json:"ok"`       // accepted for delivery (pushwire 200, Nchan 201)
	Errors   int64         `json:"errors"`   // transport errors and other statuses
	Requests int64         `json:"requests"` // HTTP requests made
	Status   map[int]int64 `json:"status,omitempty"`
	Start    int64         `json:"-"`
	End      int64         `json:"-"`
}

// Dest names the subscriber message i goes to: its id and, for pushwire, its conn key.
type Dest func(i int) (id, key string)

// Publisher posts messages to one target over keep-alive connections.
type Publisher struct {
	t    Target
	cfg  PubConfig
	do   func(req *fasthttp.Request, resp *fasthttp.Response) error
	mu   sync.Mutex
	stat map[int]int64
}

// NewPublisher prepares the clients; connections open on first use.
func NewPublisher(t Target, cfg PubConfig) *Publisher {
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	p := &Publisher{t: t, cfg: cfg, stat: map[int]int64{}}
	if cfg.Pipeline > 1 {
		pc := &fasthttp.PipelineClient{Addr: t.API, MaxConns: cfg.Conns,
			MaxPendingRequests: cfg.Conns * cfg.Pipeline * 2, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout}
		p.do = pc.Do
	} else {
		hc := &fasthttp.HostClient{Addr: t.API, MaxConns: cfg.Conns, ReadTimeout: cfg.Timeout,
			WriteTimeout: cfg.Timeout, MaxIdleConnDuration: time.Minute}
		p.do = hc.Do
	}
	return p
}

// goroutines is how many requests are kept in flight.
func (p *Publisher) goroutines() int { return p.cfg.Conns * max(p.cfg.Pipeline, 1) }

// Unicast publishes n messages, message i (sequence number i) to dest(i), spread over the
// publishers; with Rate it paces the whole set to that many messages per second.
func (p *Publisher) Unicast(ctx context.Context, n int, dest Dest) PubResult {
	u := unicastRun{p: p, n: n, dest: dest, per: max(p.cfg.Batch, 1)}
	if p.t.Kind != KindPushwire {
		u.per = 1
	}
	u.start = MonoNow()
	var wg sync.WaitGroup
	loop, workers := u.fastLoop, p.goroutines()
	if p.raw() {
		loop, workers = u.rawLoop, p.cfg.Conns
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
	// Messages never claimed (every connection failed, or ctx ended) were not sent: errors.
	if unsent := n - min(int(u.next.Load()), n); unsent > 0 {
		p.count(-1, unsent)
		u.errs.Add(int64(unsent))
	}
	return PubResult{Messages: int64(n), OK: u.ok.Load(), Errors: u.errs.Load(), Requests: u.reqs.Load(),
		Start: u.start, End: MonoNow(), Status: p.statuses()}
}

// raw reports whether pipelining uses rawPipe instead of fasthttp.PipelineClient.
func (p *Publisher) raw() bool { return p.cfg.Pipeline > 1 && p.cfg.RawPipeline }

// unicastRun is the state publishers share during one Unicast.
type unicastRun struct {
	p              *Publisher
	n, per         int
	dest           Dest
	start          int64
	next           atomic.Int64
	ok, errs, reqs atomic.Int64
}

// claim takes the next request's messages [first, last); ok is false when none are left.
func (u *unicastRun) claim() (first, last int, ok bool) {
	first = int(u.next.Add(int64(u.per))) - u.per
	if first >= u.n {
		return 0, 0, false
	}
	return first, min(first+u.per, u.n), true
}

// build makes one request's path and body for messages [first, last).
func (u *unicastRun) build(path, body []byte, first, last int) ([]byte, []byte) {
	if u.per == 1 {
		id, key := u.dest(first)
		path = u.p.t.AppendPublishPath(path[:0], id, key, false)
		return path, u.p.t.AppendPublishBody(body[:0], id, uint64(first), MonoNow(), u.p.cfg.Size)
	}
	return append(path[:0], "/pub"...), u.p.appendBatch(body[:0], first, last, u.dest)
}

func (u *unicastRun) fastLoop(ctx context.Context) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	var path, body []byte
	for ctx.Err() == nil {
		first, last, ok := u.claim()
		if !ok {
			return
		}
		u.p.pace(u.start, first)
		path, body = u.build(path, body, first, last)
		good, bad := u.p.post(req, resp, path, body, last-first, u.per > 1)
		u.ok.Add(int64(good))
		u.errs.Add(int64(bad))
		u.reqs.Add(1)
	}
}

// rawLoop sends windows of Pipeline requests on one connection, each window in one write.
func (u *unicastRun) rawLoop(ctx context.Context) {
	rp, err := dialRawPipe(u.p.t, u.p.cfg.Timeout)
	if err != nil {
		return // the messages this loop would have sent are counted unsent by Unicast
	}
	defer rp.close()
	ct := u.p.t.PublishContentType()
	if u.per > 1 {
		ct = "application/x-ndjson"
	}
	var path, body, answer []byte
	sizes := make([]int, 0, u.p.cfg.Pipeline)
	for ctx.Err() == nil {
		sizes = sizes[:0]
		for len(sizes) < u.p.cfg.Pipeline {
			first, last, ok := u.claim()
			if !ok {
				break
			}
			if len(sizes) == 0 {
				u.p.pace(u.start, first)
			}
			path, body = u.build(path, body, first, last)
			rp.add(path, ct, body)
			sizes = append(sizes, last-first)
		}
		if len(sizes) == 0 {
			return
		}
		err := rp.flush(time.Now().Add(u.p.cfg.Timeout))
		for i, msgs := range sizes {
			st := 0
			if err == nil {
				st, err = rp.readResponse(&answer)
			}
			if err != nil {
				// The connection is broken: everything not yet answered failed.
				rest := 0
				for _, m := range sizes[i:] {
					rest += m
				}
				u.p.count(-1, rest)
				u.errs.Add(int64(rest))
				return
			}
			u.reqs.Add(1)
			good, bad := u.p.judge(st, answer, msgs, u.per > 1)
			u.ok.Add(int64(good))
			u.errs.Add(int64(bad))
		}
	}
}

// Broadcast publishes one message, sequence number seq, to the shared topic/channel id.
// It returns the publish stamp and whether the server accepted the message.
func (p *Publisher) Broadcast(id string, seq int) (int64, bool) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	path := p.t.AppendPublishPath(nil, id, "", true)
	stamp := MonoNow()
	body := p.t.AppendPublishBody(nil, id, uint64(seq), stamp, p.cfg.Size)
	good, _ := p.post(req, resp, path, body, 1, false)
	return stamp, good == 1
}

func (p *Publisher) appendBatch(dst []byte, first, last int, dest Dest) []byte {
	var payload []byte
	for i := first; i < last; i++ {
		id, key := dest(i)
		payload = AppendStamp(payload[:0], uint64(i), MonoNow(), p.cfg.Size)
		dst = p.t.AppendBatchLine(dst, id, key, false, payload)
	}
	return dst
}

// pace sleeps until message i is due under Rate.
func (p *Publisher) pace(start int64, i int) {
	if p.cfg.Rate <= 0 {
		return
	}
	due := start + int64(float64(i)*1e9/p.cfg.Rate)
	if d := due - MonoNow(); d > 0 {
		time.Sleep(time.Duration(d))
	}
}

// post sends one request carrying msgs messages and returns how many were accepted.
func (p *Publisher) post(req *fasthttp.Request, resp *fasthttp.Response, path, body []byte, msgs int, batch bool) (good, bad int) {
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURIBytes(path)
	req.Header.SetHost(p.t.API)
	if batch {
		req.Header.SetContentType("application/x-ndjson")
	} else {
		req.Header.SetContentType(p.t.PublishContentType())
	}
	if p.t.Kind == KindCentrifugo {
		req.Header.Set("X-API-Key", CentrifugoAPIKey)
	}
	req.SetBodyRaw(body)
	if err := p.do(req, resp); err != nil {
		p.count(-1, msgs)
		return 0, msgs
	}
	return p.judge(resp.StatusCode(), resp.Body(), msgs, batch)
}

// judge counts the messages of one answer that the server accepted.
func (p *Publisher) judge(status int, body []byte, msgs int, batch bool) (good, bad int) {
	if !batch {
		if p.t.PublishOK(status, body) {
			return 1, 0
		}
		p.count(status, 1)
		return 0, 1
	}
	if status != 200 {
		p.count(status, msgs)
		return 0, msgs
	}
	good = countBatchOK(body, p.count)
	return good, msgs - good
}

// countBatchOK counts result lines with "status":200 in a POST /pub answer; other
// statuses go to record.
func countBatchOK(body []byte, record func(status, n int)) int {
	good := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		st := 0
		if i := bytes.Index(line, []byte(`"status":`)); i >= 0 {
			v, _ := parseUint(bytes.TrimLeft(line[i+len(`"status":`):], " "))
			st = int(v)
		}
		if st == 200 {
			good++
		} else {
			record(st, 1)
		}
	}
	return good
}

// count records n messages that failed with status (-1: transport error).
func (p *Publisher) count(status, n int) {
	p.mu.Lock()
	p.stat[status] += int64(n)
	p.mu.Unlock()
}

func (p *Publisher) statuses() map[int]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.stat) == 0 {
		return nil
	}
	m := make(map[int]int64, len(p.stat))
	for k, v := range p.stat {
		m[k] = v
	}
	return m
}
