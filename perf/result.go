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
	Pub       PubConfig
	// Messages is the unicast message count (0: one per subscriber).
	Messages int
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

	Publishers int             `json:"publishers,omitempty"`
	Pipeline   int             `json:"pipeline,omitempty"`
	Batch      int             `json:"batch,omitempty"`
	Rate       float64         `json:"rate,omitempty"`
	Publish    *PubResult      `json:"publish,omitempty"`
	Delivered  int64           `json:"delivered"`
	Lost       int64           `json:"lost"`
	Foreign    int64           `json:"foreign,omitempty"`
	Seconds    float64         `json:"seconds,omitempty"`
	MsgsPerSec float64         `json:"delivered_per_sec,omitempty"`
	Latency    *LatencySummary `json:"latency,omitempty"`

	TimeToAllMs []float64 `json:"time_to_all_ms,omitempty"`
	TimeToAll   *Spread   `json:"time_to_all,omitempty"`

	ServerCPUSec float64 `json:"server_cpu_sec,omitempty"`
	CPUPerMsgUS  float64 `json:"server_cpu_us_per_delivery,omitempty"`

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
		PerWorker: o.PerWorker, Exe: o.Exe, WantKeys: keys, Log: o.Log})
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
