package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pushwire/pushwire/perf"
)

// bench runs the phases against one cluster.
type bench struct {
	o     options
	cl    *cluster
	r     *result
	probe *redisProbe
	pools []*perf.Pool // one per subscriber node
	run   string       // prefix of this run's users and topic
	topic string
}

func (b *bench) user(node, j int) string {
	return b.run + "n" + strconv.Itoa(node) + "u" + strconv.Itoa(j)
}

// api is the node without subscribers, which takes every publish.
func (b *bench) api() string { return b.cl.nodes[b.o.nodes].api }

func (b *bench) target(edge string) perf.Target {
	return perf.Target{Kind: perf.KindPushwire, Edge: edge, API: b.api(), Format: perf.FormatSSE, ByUser: true}
}

func (b *bench) all(ctx context.Context) error {
	var err error
	if b.probe, err = dialRedis(b.cl.redisAddr); err != nil {
		return err
	}
	defer b.probe.Close()
	b.run = perf.RunID()
	b.topic = b.run + "all"
	defer func() {
		for _, p := range b.pools {
			if p != nil {
				p.Close()
			}
		}
	}()
	if err := b.connect(ctx); err != nil {
		return err
	}
	if err := b.unicast(ctx); err != nil {
		return err
	}
	if err := b.fanout(ctx); err != nil {
		return err
	}
	if b.o.storm {
		return b.storm(ctx)
	}
	return nil
}

// connect subscribes every node's share at once and measures what holding them costs.
func (b *bench) connect(ctx context.Context) error {
	o := b.o
	rssBefore := b.nodeRSS()
	heapBefore := make([]int64, o.nodes)
	for i := range heapBefore {
		heapBefore[i] = b.cl.nodes[i].heapInuse()
	}
	memBefore, err := b.probe.infoInt("memory", "used_memory")
	if err != nil {
		return err
	}
	callsBefore, err := b.probe.commandCalls()
	if err != nil {
		return err
	}
	slabBefore := slabBytes()
	edges := make([]string, o.nodes)
	for i := range edges {
		edges[i] = b.cl.nodes[i].edge
	}
	b.pools = make([]*perf.Pool, o.nodes)
	errs := make([]error, o.nodes)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range o.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.pools[i], errs[i] = perf.StartPool(ctx, perf.PoolConfig{Target: b.target(edges[i]), N: o.perNode,
				Prefix: b.run + "n" + strconv.Itoa(i) + "u", Topic: b.topic, PerWorker: o.perNode, Exe: o.exe,
				SourceIP:       b.cl.hosts.ClientIPs[i],
				ConnectTimeout: 5 * time.Minute,
				Reconnect:      &perf.Reconnect{Edges: edges, Jitter: o.jitter, DefaultRetryMs: int(o.retry.Milliseconds())}})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r := b.r
	r.ConnectSeconds = time.Since(t0).Seconds()
	for _, p := range b.pools {
		r.Connected += p.Connect.Connected
		r.ConnectFailed += p.Connect.Failed
	}
	logf("connected %d, failed %d in %.1f s", r.Connected, r.ConnectFailed, r.ConnectSeconds)
	// The directory's writes are batched a few ms behind the streams: let them land.
	if err := b.waitDirectory(ctx); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	rssAfter := b.nodeRSS()
	for i := range o.nodes + 1 {
		r.NodeRSSMiB = append(r.NodeRSSMiB, float64(rssAfter[i])/(1<<20))
		if i < o.nodes && b.pools[i].Connect.Connected > 0 {
			n := float64(b.pools[i].Connect.Connected)
			r.NodeBytesPerConn = append(r.NodeBytesPerConn, float64(rssAfter[i]-rssBefore[i])/n)
			r.NodeHeapPerConn = append(r.NodeHeapPerConn, float64(b.cl.nodes[i].heapInuse()-heapBefore[i])/n)
		}
	}
	if slab := slabBytes(); slab > 0 && slabBefore > 0 && r.Connected > 0 {
		// both ends of every stream are sockets of this machine
		r.KernelSlabPerSocket = float64(slab-slabBefore) / float64(2*r.Connected)
	}
	memAfter, err := b.probe.infoInt("memory", "used_memory")
	if err != nil {
		return err
	}
	callsAfter, err := b.probe.commandCalls()
	if err != nil {
		return err
	}
	r.RedisUsedMemoryMiB = float64(memAfter) / (1 << 20)
	r.RedisBytesPerConn = float64(memAfter-memBefore) / float64(max(r.Connected, 1))
	r.ConnectCommands = callsDelta(callsBefore, callsAfter)
	var total int64
	for _, n := range r.ConnectCommands {
		total += n
	}
	r.CommandsPerConn = float64(total) / float64(max(r.Connected, 1))
	r.KeyBytes = map[string]int64{
		"pw:u:<user> (one node)":              b.probe.memoryUsage("pw:u:" + b.user(0, 0)),
		"pw:t:<topic> (all nodes)":            b.probe.memoryUsage("pw:t:" + b.topic),
		"pw:n:{id}:u (one node's users)":      b.probe.memoryUsage("pw:n:{n0}:u"),
		"pw:n:{id}:t (one node's topics)":     b.probe.memoryUsage("pw:n:{n0}:t"),
		"pw:n:{id} (one node's heartbeat)":    b.probe.memoryUsage("pw:n:{n0}"),
		"pw:q:<user> (no stored message yet)": b.probe.memoryUsage("pw:q:" + b.user(0, 0)),
	}
	if m, err := b.probe.info("keyspace"); err == nil {
		r.RedisKeys = parseKeys(m["db0"])
	}
	r.NodeStats, _ = b.cl.nodes[0].stats()
	logf("nodes RSS %v MiB; %.0f B/conn in Redis, %.3f commands/conn %v", roundAll(r.NodeRSSMiB), r.RedisBytesPerConn, r.CommandsPerConn, r.ConnectCommands)
	return nil
}

// waitDirectory waits until Redis holds every subscriber's user entry.
func (b *bench) waitDirectory(ctx context.Context) error {
	want := int64(b.r.Connected)
	deadline := time.Now().Add(time.Minute)
	for {
		m, err := b.probe.info("keyspace")
		if err != nil {
			return err
		}
		if parseKeys(m["db0"]) >= want || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parseKeys reads keys=N out of an INFO keyspace line.
func parseKeys(db string) int64 {
	v, _, _ := cutField(db, "keys=")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func cutField(s, prefix string) (string, string, bool) {
	for i := 0; i+len(prefix) <= len(s); i++ {
		if s[i:i+len(prefix)] == prefix {
			rest := s[i+len(prefix):]
			for j := range len(rest) {
				if rest[j] == ',' {
					return rest[:j], rest[j+1:], true
				}
			}
			return rest, "", true
		}
	}
	return "", "", false
}

func (b *bench) nodeRSS() []int64 {
	out := make([]int64, len(b.cl.nodes))
	for i, n := range b.cl.nodes {
		out[i], _ = perf.ProcRSS(n.pid())
	}
	return out
}

// everyone is Dest over all subscribers, interleaved over the nodes.
func (b *bench) everyone() perf.Dest {
	nodes, per := b.o.nodes, b.o.perNode
	return func(i int) (string, string) {
		return b.user(i%nodes, (i/nodes)%per), ""
	}
}

func (b *bench) unicast(ctx context.Context) error {
	o := b.o
	for _, p := range b.pools {
		if err := p.Reset(0); err != nil {
			return err
		}
	}
	n := o.messages
	if n <= 0 {
		n = o.nodes * o.perNode
	}
	pub := perf.NewPublisher(b.target(""), perf.PubConfig{Conns: o.pubConns})
	logf("unicast: %d messages by user through %s (%d publishers)", n, b.api(), o.pubConns)
	res := pub.Unicast(ctx, n, b.everyone())
	got, err := b.waitReceived(ctx, res.OK)
	if err != nil {
		return err
	}
	lat := perf.NewLatency()
	var last int64
	for _, p := range b.pools {
		s, l, err := p.Report()
		if err != nil {
			return err
		}
		lat.Merge(l)
		last = max(last, s.LastRecv)
	}
	u := &b.r.Unicast
	u.Messages, u.OK, u.Received, u.Status = n, res.OK, got, res.Status
	u.Lost = max(res.OK-got, 0)
	if last > res.Start {
		u.MsgsPerSec = float64(got) / (float64(last-res.Start) / 1e9)
	}
	u.Latency = lat.Summary()
	b.r.PublishNodeRSSMiB = float64(b.nodeRSS()[o.nodes]) / (1 << 20)
	logf("unicast: %d accepted, %d received, %.0f msgs/s, p50 %.2f ms p99 %.2f ms", res.OK, got, u.MsgsPerSec, u.Latency.P50, u.Latency.P99)
	return nil
}

// waitReceived polls every pool until want stamped messages arrived or none came for the
// drain time.
func (b *bench) waitReceived(ctx context.Context, want int64) (int64, error) {
	last, lastChange := int64(-1), time.Now()
	for {
		var n int64
		for _, p := range b.pools {
			s, err := p.Stats()
			if err != nil {
				return n, err
			}
			n += s.Received
		}
		if n >= want {
			return n, nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > b.o.drain {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *bench) fanout(ctx context.Context) error {
	m := max(b.o.publishes, 1)
	for _, p := range b.pools {
		if err := p.Reset(m); err != nil {
			return err
		}
	}
	pub := perf.NewPublisher(b.target(""), perf.PubConfig{Conns: 1})
	stamps := make([]int64, m)
	ok := 0
	for seq := range m {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stamp, good := pub.Broadcast(b.topic, seq)
		stamps[seq] = stamp
		if !good {
			logf("fan-out: publish %d was not accepted", seq)
			continue
		}
		ok++
		for i, p := range b.pools {
			if !p.WaitSeq(seq, b.o.drain) {
				logf("fan-out: publish %d did not reach every subscriber of node %d within %v", seq, i, b.o.drain)
			}
		}
	}
	f := &b.r.Fanout
	f.Publishes, f.OK = m, ok
	counts := make([]int64, m)
	lasts := make([]int64, m)
	for _, p := range b.pools {
		s, _, err := p.Report()
		if err != nil {
			return err
		}
		for seq := range min(m, len(s.SeqCount)) {
			counts[seq] += int64(s.SeqCount[seq])
			lasts[seq] = max(lasts[seq], s.SeqLast[seq])
		}
	}
	for seq := range m {
		f.Deliveries += counts[seq]
		if counts[seq] > 0 {
			f.TimeToAllMs = append(f.TimeToAllMs, float64(lasts[seq]-stamps[seq])/1e6)
		}
	}
	f.Expected = int64(ok) * int64(b.r.Connected)
	f.MedianMs = perf.Median(f.TimeToAllMs)
	logf("fan-out: %d publishes, %d of %d deliveries, time to all %v ms", m, f.Deliveries, f.Expected, roundAll(f.TimeToAllMs))
	return nil
}

func roundAll(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.1f", x)
	}
	return out
}
