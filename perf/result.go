package perf

import (
	"context"
	"time"
)

// Options are the knobs every scenario shares.
type Options struct {
	Target Target
	// N is the number of subscribers.
	N int
	// PerWorker and Exe place subscribers in worker processes (see PoolConfig).
	PerWorker int
	Exe       string
	// SpreadSourceIPs: see PoolConfig.
	SpreadSourceIPs bool
	Pub             PubConfig
	// Messages is the unicast message count (0: one per subscriber).
	Messages int
	// Repeat sends this many consecutive messages to each subscriber before moving on, so
	// that a batch carries several messages per connection and the server can coalesce
	// them into one write (0 or 1: every message to the next subscriber).
	Repeat int
	// Publishes is the broadcast publish count.
	Publishes int
	// Settle is how long idle waits after connecting before it reads the server's RSS.
	Settle time.Duration
	// Drain is how long a run waits with no new deliveries before counting the rest lost.
	Drain time.Duration
	Log   func(format string, args ...any)
}

// Result is one scenario run against one target. Zero fields were not measured.
type Result struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Conns    int    `json:"conns"`

	Connected     int     `json:"connected"`
	ConnectFailed int     `json:"connect_failed"`
	ConnectPerSec float64 `json:"connect_per_sec"`
	Closed        int     `json:"closed_by_server"`

	ServerRSSBefore int64   `json:"server_rss_before,omitempty"`
	ServerRSSAfter  int64   `json:"server_rss_after,omitempty"`
	RSSPerConn      float64 `json:"rss_per_conn_bytes,omitempty"`
	Goroutines      *int64  `json:"goroutines,omitempty"`
	CPUPerConnUS    float64 `json:"server_cpu_us_per_conn,omitempty"`

	Publishers  int             `json:"publishers,omitempty"`
	Pipeline    int             `json:"pipeline,omitempty"`
	RawPipeline bool            `json:"raw_pipeline,omitempty"`
	Batch       int             `json:"batch,omitempty"`
	Repeat      int             `json:"repeat,omitempty"`
	Rate        float64         `json:"rate,omitempty"`
	Publish     *PubResult      `json:"publish,omitempty"`
	Delivered   int64           `json:"delivered"`
	Lost        int64           `json:"lost"`
	Foreign     int64           `json:"foreign,omitempty"`
	Seconds     float64         `json:"seconds,omitempty"`
	MsgsPerSec  float64         `json:"delivered_per_sec,omitempty"`
	Latency     *LatencySummary `json:"latency,omitempty"`

	TimeToAllMs []float64 `json:"time_to_all_ms,omitempty"`
	TimeToAll   *Spread   `json:"time_to_all,omitempty"`

	ServerCPUSec float64 `json:"server_cpu_sec,omitempty"`
	CPUPerMsgUS  float64 `json:"server_cpu_us_per_delivery,omitempty"`
	// ClientCPUPerMsgUS is pushbench's own CPU (parent and workers) per delivery: when it
	// nears the server's on a shared core, the client is what limits the rate.
	ClientCPUPerMsgUS float64 `json:"client_cpu_us_per_delivery,omitempty"`
	// PublisherCPUPerMsgUS is the parent's share of it (publishers, parsing no frames).
	PublisherCPUPerMsgUS float64 `json:"publisher_cpu_us_per_delivery,omitempty"`

	hist *Latency
}

// Spread summarizes a small sample (per-publish times) in milliseconds.
type Spread struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// Requests is the number of publish requests made.
func (r *Result) Requests() int64 {
	if r.Publish == nil {
		return 0
	}
	return r.Publish.Requests
}

// Hist is the run's latency histogram (nil for idle), for plots.
func (r *Result) Hist() *Latency { return r.hist }

func spreadOf(xs []float64) *Spread {
	if len(xs) == 0 {
		return nil
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return &Spread{P50: Median(xs), P90: Percentile(xs, 90), Max: Percentile(xs, 100), Mean: sum / float64(len(xs))}
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// startPool opens the scenario's subscribers.
func (o *Options) startPool(ctx context.Context, prefix string, shared, keys bool) (*Pool, error) {
	return StartPool(ctx, PoolConfig{Target: o.Target, N: o.N, Prefix: prefix, Shared: shared,
		PerWorker: o.PerWorker, Exe: o.Exe, WantKeys: keys, Log: o.Log, SpreadSourceIPs: o.SpreadSourceIPs})
}

func (o *Options) drain() time.Duration {
	if o.Drain <= 0 {
		return 3 * time.Second
	}
	return o.Drain
}

func (r *Result) fillConnect(p *Pool) {
	r.Connected, r.ConnectFailed = p.Connect.Connected, p.Connect.Failed
	if p.Connect.ConnectNanos > 0 {
		r.ConnectPerSec = float64(p.Connect.Connected) / (float64(p.Connect.ConnectNanos) / 1e9)
	}
}

// clientSample is the load side's CPU: all of it, and the parent's share.
type clientSample struct{ all, parent time.Duration }

// clientCPU samples the load side's CPU; errors leave it unmeasured.
func clientCPU(p *Pool) clientSample {
	pids := p.ClientPids()
	all, err1 := SampleProcs(pids)
	parent, err2 := SampleProcs(pids[:1])
	if err1 != nil || err2 != nil {
		return clientSample{}
	}
	return clientSample{all: all.CPU, parent: parent.CPU}
}

func (r *Result) fillClientCPU(before, after clientSample, delivered int64) {
	if delivered > 0 && before.all > 0 {
		r.ClientCPUPerMsgUS = float64((after.all - before.all).Microseconds()) / float64(delivered)
		r.PublisherCPUPerMsgUS = float64((after.parent - before.parent).Microseconds()) / float64(delivered)
	}
}

// fillCPU sets the server CPU figures from two samples and the delivered count.
// Without server pids both samples are zero and nothing is reported.
func (r *Result) fillCPU(o *Options, before, after ProcSample, delivered int64) {
	if len(o.Target.Pids) == 0 {
		return
	}
	cpu := after.CPU - before.CPU
	r.ServerCPUSec = cpu.Seconds()
	if delivered > 0 {
		r.CPUPerMsgUS = float64(cpu.Microseconds()) / float64(delivered)
	}
}
