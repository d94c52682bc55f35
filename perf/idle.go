package perf

import (
	"context"
	"time"
)

// RunIdle holds N idle subscribers and measures what they cost the server: RSS per
// connection (VmRSS after minus before, over the connections), goroutines (pushwire /stats),
// connect rate, and server CPU per accepted connection.
func RunIdle(ctx context.Context, o Options) (*Result, error) {
	r := &Result{Scenario: "idle", Target: o.Target.Kind.String(), Conns: o.N}
	// A first connection warms the server (lazy allocations on first accept) so the RSS
	// delta is about the N connections, not the first one.
	if warm, err := (&Options{Target: o.Target, N: 1, Exe: "", PerWorker: 1}).startPool(ctx, RunID()+"w", false, false); err == nil {
		warm.Close()
	}
	before, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	p, err := o.startPool(ctx, RunID()+"i", false, false)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	r.fillConnect(p)
	settle := o.Settle
	if settle <= 0 {
		settle = 2 * time.Second
	}
	o.logf("idle: settling %v before reading server RSS", settle)
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	if len(o.Target.Pids) > 0 {
		r.ServerRSSBefore, r.ServerRSSAfter = before.RSSBytes, after.RSSBytes
		if r.Connected > 0 {
			r.RSSPerConn = float64(after.RSSBytes-before.RSSBytes) / float64(r.Connected)
			r.CPUPerConnUS = float64((after.CPU - before.CPU).Microseconds()) / float64(r.Connected)
		}
	}
	if g, ok := o.Target.Goroutines(); ok {
		r.Goroutines = &g
	}
	return r, nil
}
