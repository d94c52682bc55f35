package perf

import "context"

// RunBroadcast holds N subscribers on one topic/channel, publishes Publishes messages to
// it one after another (each once the previous reached everybody, or after a timeout) and
// measures time-to-all per publish, deliveries/s, latency and server CPU per delivery.
func RunBroadcast(ctx context.Context, o Options) (*Result, error) {
	r := &Result{Scenario: "broadcast", Target: o.Target.Kind.String(), Conns: o.N, Publishers: 1}
	topic := RunID() + "b"
	p, err := o.startPool(ctx, topic, true, false)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	r.fillConnect(p)
	m := max(o.Publishes, 1)
	if err := p.Reset(m); err != nil {
		return nil, err
	}
	pub := NewPublisher(o.Target, o.Pub)
	clientBefore := clientCPU(p)
	before, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	stamps := make([]int64, m)
	var res PubResult
	res.Start = MonoNow()
	for seq := range m {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		stamp, ok := pub.Broadcast(topic, seq)
		stamps[seq] = stamp
		res.Messages++
		res.Requests++
		if !ok {
			res.Errors++
			continue
		}
		res.OK++
		if !p.WaitSeq(seq, o.drain()) {
			o.logf("broadcast: publish %d did not reach every subscriber within %v", seq, o.drain())
		}
	}
	res.End = MonoNow()
	res.Status = pub.statuses()
	clientAfter := clientCPU(p)
	after, err := SampleProcs(o.Target.Pids)
	if err != nil {
		return nil, err
	}
	sum, lat, err := p.Report()
	if err != nil {
		return nil, err
	}
	r.Publish = &res
	r.Delivered, r.Foreign, r.Closed = sum.Received, sum.Foreign, sum.Closed
	r.Lost = max(res.OK*int64(r.Connected)-sum.Received, 0)
	var busy float64
	for seq := range min(m, len(sum.SeqLast)) {
		if sum.SeqCount[seq] == 0 {
			continue
		}
		ms := float64(sum.SeqLast[seq]-stamps[seq]) / 1e6
		r.TimeToAllMs = append(r.TimeToAllMs, ms)
		busy += ms / 1000
	}
	r.TimeToAll = spreadOf(r.TimeToAllMs)
	if busy > 0 {
		r.Seconds = busy
		r.MsgsPerSec = float64(sum.Received) / busy
	}
	ls := lat.Summary()
	r.Latency, r.hist = &ls, lat
	r.fillCPU(&o, before, after, sum.Received)
	r.fillClientCPU(clientBefore, clientAfter, sum.Received)
	o.logf("broadcast: %d publishes, %d deliveries, time-to-all p50 %.1f ms", m, sum.Received,
		r.TimeToAll.orZero().P50)
	return r, nil
}

func (s *Spread) orZero() Spread {
	if s == nil {
		return Spread{}
	}
	return *s
}
