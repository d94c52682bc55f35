package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/perf"
	"github.com/valyala/fasthttp"
)

// storm kills one subscriber node with SIGKILL and follows its streams while they reopen
// on the others, with QoS 0 publishes to the surviving nodes' users and one QoS 1 message
// to each of the killed node's users going on through it.
func (b *bench) storm(ctx context.Context) error {
	o := b.o
	const victim = 0
	vp := b.pools[victim]
	m := o.perNode
	if err := vp.Reset(m); err != nil {
		return err
	}
	for i, p := range b.pools {
		if i != victim {
			if err := p.Reset(0); err != nil {
				return err
			}
		}
	}
	callsBefore, err := b.probe.commandCalls()
	if err != nil {
		return err
	}
	opsProbe, err := dialRedis(b.cl.redisAddr)
	if err != nil {
		return err
	}
	defer opsProbe.Close()
	sampler := startOpsSampler(opsProbe, 100*time.Millisecond)
	client := &fasthttp.HostClient{Addr: b.api(), MaxConns: 64, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	steady := startSteady(client, b.survivorUsers(victim), o.steadyRate)
	time.Sleep(time.Second)

	logf("storm: kill -9 of node %s (%d streams)", b.cl.nodes[victim].id, vp.Connect.Connected)
	t0 := perf.MonoNow()
	b.cl.nodes[victim].kill9()
	steady.markKill()
	for i, p := range b.pools {
		if i != victim {
			// the surviving nodes' receipt latency, from the kill on
			if err := p.Reset(0); err != nil {
				return err
			}
		}
	}
	q := startQoS(client, func(j int) string { return b.user(victim, j) }, m, o.qosWindow)

	s := &b.r.Storm
	s.Streams = vp.Connect.Connected
	deadline := time.Now().Add(3 * time.Minute)
	var st perf.WorkerStats
	for {
		if st, err = vp.Stats(); err != nil {
			return err
		}
		if st.Closed >= st.Connected && st.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			logf("storm: %d of %d streams still waiting after 3 minutes", st.Waiting, st.Connected)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.Reopened, s.StillWaiting = st.Resubscribed, st.Waiting
	if st.LastResubscribe > t0 {
		s.AllBackSeconds = float64(st.LastResubscribe-t0) / 1e9
	}
	logf("storm: %d streams open again, %d waiting, the last %.2f s after the kill", st.Resubscribed, st.Waiting, s.AllBackSeconds)
	time.Sleep(time.Second)
	q.wait()
	before, during := steady.stop()
	s.RedisPeakOps, s.RedisPeakOps1s, s.RedisInstantPeak = sampler.finish()
	callsAfter, err := b.probe.commandCalls()
	if err != nil {
		return err
	}
	s.RedisCommands = callsDelta(callsBefore, callsAfter)
	s.SteadyAnswerBefore, s.SteadyAnswerDuring = before.Summary(), during.Summary()
	s.SteadyStatus = steady.statuses()
	lat := perf.NewLatency()
	for i, p := range b.pools {
		if i == victim {
			continue
		}
		_, l, err := p.Report()
		if err != nil {
			return err
		}
		lat.Merge(l)
	}
	s.SurvivorReceipt = lat.Summary()

	// QoS 1: every message answered 200 or 202 must reach its user's reopened stream.
	s.QoSStatus = q.statuses()
	answered := q.answered()
	s.QoSAnswered = len(answered)
	last, lastChange := -1, time.Now()
	for {
		rep, _, err := vp.Report()
		if err != nil {
			return err
		}
		got := 0
		for _, j := range answered {
			if j < len(rep.SeqCount) && rep.SeqCount[j] > 0 {
				got++
			}
		}
		s.QoSReceived = got
		if got == len(answered) || time.Since(lastChange) > o.drain {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.QoSLost = s.QoSAnswered - s.QoSReceived
	s.SurvivorRSSMiB = nil
	rss := b.nodeRSS()
	for i := range b.cl.nodes {
		if i != victim {
			s.SurvivorRSSMiB = append(s.SurvivorRSSMiB, float64(rss[i])/(1<<20))
		}
	}
	logf("storm: Redis peak %.0f commands/s (100 ms), %.0f (1 s); QoS 1 answered %d, received %d, lost %d; survivors' receipt p99 %.1f ms",
		s.RedisPeakOps, s.RedisPeakOps1s, s.QoSAnswered, s.QoSReceived, s.QoSLost, s.SurvivorReceipt.P99)
	if s.QoSLost > 0 {
		return fmt.Errorf("%d QoS 1 messages answered 200/202 never reached their reopened streams", s.QoSLost)
	}
	if s.StillWaiting > 0 {
		return fmt.Errorf("%d streams of the killed node were not open again", s.StillWaiting)
	}
	return nil
}

// survivorUsers lists the users of every node but victim, interleaved over the nodes.
func (b *bench) survivorUsers(victim int) []string {
	var users []string
	for j := range b.o.perNode {
		for i := range b.o.nodes {
			if i != victim {
				users = append(users, b.user(i, j))
			}
		}
	}
	return users
}

// statusCount counts answers by status (0: transport error).
type statusCount struct {
	mu sync.Mutex
	m  map[int]int64
}

func (c *statusCount) add(status int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int]int64{}
	}
	c.m[status]++
	c.mu.Unlock()
}

func (c *statusCount) statuses() map[int]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]int64{}
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// post sends one publish and returns its status (0 on a transport error).
func post(client *fasthttp.HostClient, path string, body []byte, qos1 bool) int {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(path)
	req.Header.SetHost(client.Addr)
	req.Header.SetContentType("text/plain")
	if qos1 {
		req.Header.Set("Push-QoS", "1")
	}
	req.SetBody(body)
	if err := client.Do(req, resp); err != nil {
		return 0
	}
	return resp.StatusCode()
}

// steady publishes QoS 0 messages round-robin to users at a fixed rate and records each
// answer's time, before and after the kill apart.
type steady struct {
	stopped atomic.Bool
	killed  atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	before  *perf.Latency
	during  *perf.Latency
	statusCount
}

func startSteady(client *fasthttp.HostClient, users []string, rate float64) *steady {
	s := &steady{before: perf.NewLatency(), during: perf.NewLatency()}
	const workers = 8
	var next atomic.Int64
	start := time.Now()
	for range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var body []byte
			for !s.stopped.Load() {
				i := next.Add(1) - 1
				if d := time.Until(start.Add(time.Duration(float64(i) * float64(time.Second) / rate))); d > 0 {
					time.Sleep(d)
				}
				body = perf.AppendStamp(body[:0], uint64(1<<40+i), perf.MonoNow(), 0)
				t := perf.MonoNow()
				status := post(client, "/pub/user/"+users[int(i)%len(users)], body, false)
				took := perf.MonoNow() - t
				s.add(status)
				s.mu.Lock()
				if s.killed.Load() {
					s.during.RecordNanos(took)
				} else {
					s.before.RecordNanos(took)
				}
				s.mu.Unlock()
			}
		}()
	}
	return s
}

func (s *steady) markKill() { s.killed.Store(true) }

func (s *steady) stop() (before, during *perf.Latency) {
	s.stopped.Store(true)
	s.wg.Wait()
	return s.before, s.during
}

// qos publishes one QoS 1 message to each of m users, spread over window, and records
// which were answered 200 or 202.
type qos struct {
	wg sync.WaitGroup
	statusCount
	mu sync.Mutex
	ok []int
}

func startQoS(client *fasthttp.HostClient, user func(j int) string, m int, window time.Duration) *qos {
	q := &qos{}
	const workers = 32
	var next atomic.Int64
	start := time.Now()
	for range workers {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			var body []byte
			for {
				j := int(next.Add(1) - 1)
				if j >= m {
					return
				}
				if d := time.Until(start.Add(time.Duration(int64(window) * int64(j) / int64(m)))); d > 0 {
					time.Sleep(d)
				}
				body = perf.AppendStamp(body[:0], uint64(j), perf.MonoNow(), 0)
				status := post(client, "/pub/user/"+user(j), body, true)
				q.add(status)
				if status == 200 || status == 202 {
					q.mu.Lock()
					q.ok = append(q.ok, j)
					q.mu.Unlock()
				}
			}
		}()
	}
	return q
}

func (q *qos) wait() { q.wg.Wait() }

func (q *qos) answered() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]int(nil), q.ok...)
}
