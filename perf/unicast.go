package perf

import (
	"context"
	"strconv"
	"time"
)

// RunUnicast holds N subscribers on distinct channels (Nchan) or users/conn keys
// (pushwire), publishes Messages messages round-robin over them and measures delivered
// msgs/s, publish→receipt latency, errors, lost messages and server CPU per delivery.
func RunUnicast(ctx context.Context, o Options) (*Result, error) {
	return runUnicast(ctx, o, "unicast")
}

// clusterSettle is how long the cluster scenario waits, publishing by user,
// for the subscribers' users to be in the directory.
const clusterSettle = time.Second

func runUnicast(ctx context.Context, o Options, name string) (*Result, error) {
	r := &Result{Scenario: name, Target: o.Target.Kind.String(), Conns: o.N,
		Publishers: max(o.Pub.Conns, 1), Pipeline: o.Pub.Pipeline, RawPipeline: o.Pub.RawPipeline, Batch: o.Pub.Batch, Rate: o.Pub.Rate}
	prefix := RunID() + "u"
	byKey := o.Target.Kind == KindPushwire && !o.Target.ByUser
	p, err := o.startPool(ctx, prefix, false, byKey)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	r.fillConnect(p)
	// Only subscribers that are up get messages, so that "lost" means lost in the server.
	var live []int
	for i := range o.N {
		if !byKey || (i < len(p.Keys) && p.Keys[i] != "") {
			live = append(live, i)
		}
	}
	if len(live) == 0 || r.Connected == 0 {
		return r, nil
	}
	if name == "cluster" && o.Target.ByUser {
		// Users reach the cluster's directory in batched writes a few ms after
		// they connect; a push looked up before that finds nobody (404). Conn
		// keys name their node and need no wait.
		select {
		case <-time.After(clusterSettle):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	repeat := max(o.Repeat, 1)
	r.Repeat = repeat
	dest := func(i int) (string, string) {
		s := live[(i/repeat)%len(live)]
		key := ""
		if byKey {
			key = p.Keys[s]
		}
		return prefix + strconv.Itoa(s), key
	}
	if err := p.Reset(0); err != nil {
		return nil, err
	}
	n := o.Messages
	if n <= 0 {
		n = len(live)
	}
	pub := NewPublisher(o.Target, o.Pub)
	clientBefore := clientCPU(p)
	before, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	o.logf("%s: publishing %d messages to %s (%d publishers, pipeline %d, batch %d)",
		name, n, o.Target.API, r.Publishers, max(o.Pub.Pipeline, 1), max(o.Pub.Batch, 1))
	res := pub.Unicast(ctx, n, dest)
	got, err := p.WaitReceived(ctx, res.OK, o.drain())
	if err != nil {
		return nil, err
	}
	clientAfter := clientCPU(p)
	after, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	sum, lat, err := p.Report()
	if err != nil {
		return nil, err
	}
	o.logf("%s: %d accepted, %d received, %d publish errors", name, res.OK, got, res.Errors)
	r.Publish = &res
	r.Delivered, r.Foreign, r.Closed = sum.Received, sum.Foreign, sum.Closed
	r.Lost = max(res.OK-sum.Received, 0)
	if sum.LastRecv > res.Start {
		r.Seconds = float64(sum.LastRecv-res.Start) / 1e9
		r.MsgsPerSec = float64(sum.Received) / r.Seconds
	}
	ls := lat.Summary()
	r.Latency, r.hist = &ls, lat
	r.fillCPU(&o, before, after, sum.Received)
	r.fillClientCPU(clientBefore, clientAfter, sum.Received)
	return r, nil
}

// RunCluster is unicast with subscribers on one node (Target.Edge) and publishes sent to
// another (Target.API): every message crosses nodes (pushwire's link; for Nchan, Redis). Target.Pids should
// name both nodes so the CPU per delivery counts both hops.
func RunCluster(ctx context.Context, o Options) (*Result, error) {
	return runUnicast(ctx, o, "cluster")
}
