package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SuiteConfig drives "pushbench suite": pushwire, the floor and the peers, every
// scenario, BENCHMARKS.md.
type SuiteConfig struct {
	// RepoDir is the module root: ./cmd/pushwire is built there, BENCHMARKS.md lives there
	// and the micro-benchmarks run there.
	RepoDir string
	// PushwireBin skips the build when set.
	PushwireBin string
	// NchanScript is ../shared/peers/nchan/start.sh.
	NchanScript string
	// CentrifugoScript is ../shared/peers/centrifugo/start.sh.
	CentrifugoScript string
	// Targets are the kinds to run, in SuiteKinds order; nil runs all of SuiteKinds. The
	// floor runs as "Base.Exe floor-server", so it needs Base.Exe.
	Targets []Kind
	// ServerCPUs pins the servers (taskset); pushbench pins itself elsewhere beforehand.
	ServerCPUs string
	// Rounds alternates the targets this many times; tables show medians.
	Rounds int
	// Base carries N, publishers, messages, publishes, drain, Exe and Log for every run.
	Base Options
	// PipelineConns × PipelineDepth is the server-bound unicast variant.
	PipelineConns, PipelineDepth int
	// RawPipeline uses rawPipe rather than fasthttp.PipelineClient for the pipelined variant.
	RawPipeline bool
	// Batch is the pushwire batch-publish variant's messages per POST /pub.
	Batch int
	// CoalesceBatch and CoalesceRepeat shape the coalescing variant: batches of
	// CoalesceBatch messages, CoalesceRepeat in a row to each connection, over
	// CoalesceConns publisher connections (enough that the server, not the
	// publishers' round trips, sets the rate).
	CoalesceBatch, CoalesceRepeat, CoalesceConns int
	// FixedRate is the paced unicast variant's messages per second: below both
	// servers' top rate, so its latency is the servers' and not a queue's.
	// 0 skips it.
	FixedRate float64
	// Cluster adds the cross-node variant (needs redis-server).
	Cluster bool
	// Command is the exact command line, recorded in BENCHMARKS.md.
	Command string
	// SkipMicro leaves the micro-benchmarks out (quick checks of the suite itself).
	SkipMicro bool
	// BenchTime is go test -benchtime for the micro-benchmarks ("" = go's default 1s).
	BenchTime string
	// ServerLog receives the servers' stderr; nil discards it.
	ServerLog io.Writer
}

// SuiteResult is everything the suite measured.
type SuiteResult struct {
	Date       string `json:"date"`
	Commit     string `json:"commit"`
	Machine    string `json:"machine"`
	GoVersion  string `json:"go_version"`
	Command    string `json:"command"`
	ServerCPUs string `json:"server_cpus"`
	LoadCPUs   string `json:"load_cpus"`
	// LoadAvg is /proc/loadavg at the start and the end: other jobs on the shared cores
	// show here, and with them how far absolute rates and times can be trusted.
	LoadAvg  [2]string     `json:"loadavg"`
	Tables   []*SuiteTable `json:"tables"`
	Runs     []*Result     `json:"runs"`
	Micro    string        `json:"micro_benchmarks"`
	Problems []string      `json:"problems,omitempty"`
}

// suiteScenario is one row group of the suite.
type suiteScenario struct {
	name, kind string // kind: the scenario whose metrics apply (idle, unicast, broadcast)
	only       Kind   // run against this target only (batch: pushwire)
	onlySet    bool
	cluster    bool // two pushwire nodes on one Redis: subscribe on one, publish on the other
	adjust     func(o *Options)
	// floorRef is the floor's scenario that stands in for a pushwire-only one: broadcast
	// (one write per delivery, no request per message) for the batching variants, unicast
	// (the same publishers) for cluster.
	floorRef string
}

func (c *SuiteConfig) scenarios() []suiteScenario {
	all := []suiteScenario{
		{name: "idle", kind: "idle"},
		{name: "unicast", kind: "unicast"},
		{name: "unicast-pipelined", kind: "unicast", adjust: func(o *Options) {
			o.Pub.Conns, o.Pub.Pipeline, o.Pub.RawPipeline = c.PipelineConns, c.PipelineDepth, c.RawPipeline
		}},
		{name: "unicast-batch", kind: "unicast", only: KindPushwire, onlySet: true, floorRef: "broadcast", adjust: func(o *Options) {
			o.Pub.Conns, o.Pub.Batch = c.PipelineConns, c.Batch
		}},
		{name: "unicast-coalesced", kind: "unicast", only: KindPushwire, onlySet: true, floorRef: "broadcast", adjust: func(o *Options) {
			o.Pub.Conns, o.Pub.Batch, o.Repeat = max(c.CoalesceConns, 1), c.CoalesceBatch, c.CoalesceRepeat
			o.Messages = o.N * c.CoalesceRepeat // ~1 s at the server's rate: enough 10 ms CPU ticks
		}},
		{name: "unicast-fixed-rate", kind: "unicast", adjust: func(o *Options) { o.Pub.Rate = c.FixedRate }},
		{name: "broadcast", kind: "broadcast"},
		// Nchan has no cluster row: two start.sh instances on one Redis answer a publish
		// on the other instance with 202 and never deliver it (checked by hand here), so
		// there is no working Nchan cluster to compare with.
		{name: "cluster", kind: "unicast", only: KindPushwire, onlySet: true, cluster: true, floorRef: "unicast"},
	}
	var out []suiteScenario
	for _, sc := range all {
		switch {
		case sc.name == "unicast-coalesced" && c.CoalesceRepeat <= 1:
		case sc.name == "unicast-fixed-rate" && c.FixedRate <= 0:
		case sc.cluster && !c.Cluster:
		default:
			out = append(out, sc)
		}
	}
	return out
}

// RunSuite runs every scenario against a fresh server of each target, alternating
// targets round by round, and returns the figures. A target that cannot start is
// reported in Problems and the others still run.
func RunSuite(ctx context.Context, c SuiteConfig) (*SuiteResult, error) {
	c.Rounds = max(c.Rounds, 1)
	res := &SuiteResult{Date: time.Now().UTC().Format(time.RFC3339), Command: c.Command, ServerCPUs: c.ServerCPUs}
	res.Commit, res.Machine, res.GoVersion, res.LoadCPUs = gitCommit(c.RepoDir), machine(), goVersion(c.RepoDir), selfCPUs()
	res.LoadAvg[0] = loadAvg()
	defer func() { res.LoadAvg[1] = loadAvg() }()
	bin := c.PushwireBin
	if bin == "" {
		c.Base.logf("suite: building ./cmd/pushwire")
		b, err := BuildPushwire(c.RepoDir)
		if err != nil {
			res.Problems = append(res.Problems, "pushwire did not build: "+firstLine(err.Error()))
		} else {
			bin = b
			defer os.RemoveAll(filepath.Dir(b))
		}
	}
	kinds := c.Targets
	if kinds == nil {
		kinds = SuiteKinds
	}
	runs := map[string]map[string][]*Result{}
	for round := range c.Rounds {
		for _, kind := range kinds {
			if kind == KindPushwire && bin == "" {
				continue
			}
			c.Base.logf("suite: round %d/%d, %s", round+1, c.Rounds, kind)
			for _, r := range c.runTarget(ctx, kind, bin, res) {
				if runs[r.Scenario] == nil {
					runs[r.Scenario] = map[string][]*Result{}
				}
				runs[r.Scenario][kind.String()] = append(runs[r.Scenario][kind.String()], r)
				res.Runs = append(res.Runs, r)
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	for _, sc := range c.scenarios() {
		if len(runs[sc.name]) == 0 {
			continue
		}
		res.Tables = append(res.Tables, suiteTable(sc, runs[sc.name], runs[sc.floorRef]))
	}
	if c.SkipMicro {
		res.Micro = "# not run (--micro=false)\n"
	} else {
		c.Base.logf("suite: micro-benchmarks")
		res.Micro = MicroBenchmarks(c.RepoDir, c.BenchTime)
	}
	return res, nil
}

// runTarget starts one server, runs every scenario on it and stops it. A scenario that
// fails is recorded and the next one runs.
func (c *SuiteConfig) runTarget(ctx context.Context, kind Kind, bin string, res *SuiteResult) []*Result {
	var out []*Result
	for _, sc := range c.scenarios() {
		if sc.onlySet && sc.only != kind {
			continue
		}
		// A fresh server per scenario: idle RSS must not include what unicast left behind,
		// and one scenario's slow consumers must not weigh on the next.
		d, err := c.deploy(kind, bin, sc.cluster)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s (%s) did not start: %v", kind, sc.name, err))
			continue
		}
		o := c.Base
		o.Target = d.target
		if sc.adjust != nil {
			sc.adjust(&o)
		}
		run := map[string]func(context.Context, Options) (*Result, error){
			"idle": RunIdle, "broadcast": RunBroadcast,
		}[sc.kind]
		if run == nil {
			name := sc.name
			run = func(ctx context.Context, o Options) (*Result, error) { return runUnicast(ctx, o, name) }
		}
		r, err := run(ctx, o)
		if d.exited() {
			res.Problems = append(res.Problems, fmt.Sprintf("%s exited during %s", kind, sc.name))
		}
		d.stop()
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s %s: %v", kind, sc.name, err))
			continue
		}
		r.Scenario = sc.name
		out = append(out, r)
	}
	return out
}

// deployment is the server processes one scenario runs against.
type deployment struct {
	servers []*Server // stopped in reverse order
	target  Target
}

func (d *deployment) stop() {
	for i := len(d.servers) - 1; i >= 0; i-- {
		d.servers[i].Stop()
	}
}

func (d *deployment) exited() bool {
	for _, s := range d.servers {
		if s.Exited() {
			return true
		}
	}
	return false
}

// deploy starts one server, or for cluster a Redis and two nodes on it (pushwire nodes,
// or nginx+Nchan instances storing in that Redis): subscribers go to node a, publishes to
// node b, and the CPU of both nodes is counted (Redis's is not, for either).
func (c *SuiteConfig) deploy(kind Kind, bin string, cluster bool) (*deployment, error) {
	cfg := ServerConfig{CPUs: c.ServerCPUs, Stderr: c.ServerLog}
	start := func(cfg ServerConfig) (*Server, error) {
		switch kind {
		case KindNchan:
			return StartNchan(c.NchanScript, cfg)
		case KindCentrifugo:
			return StartCentrifugo(c.CentrifugoScript, cfg)
		case KindFloor:
			if c.Base.Exe == "" {
				return nil, errors.New("the floor runs as \"pushbench floor-server\": no pushbench binary (Options.Exe)")
			}
			return StartFloor(c.Base.Exe, cfg)
		}
		return StartPushwire(bin, cfg)
	}
	d := &deployment{}
	if !cluster {
		s, err := start(cfg)
		if err != nil {
			return nil, err
		}
		d.servers, d.target = []*Server{s}, s.Target
		return d, nil
	}
	rd, err := StartRedis(cfg)
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	d.servers = append(d.servers, rd)
	for _, id := range []string{"a", "b"} {
		ncfg := cfg
		if kind == KindNchan {
			_, port, _ := strings.Cut(rd.Target.Edge, ":")
			ncfg.Args = []string{port}
		} else {
			ncfg.Args = []string{"--redis", "redis://" + rd.Target.Edge + "/0", "--node-id", id}
		}
		s, err := start(ncfg)
		if err != nil {
			d.stop()
			return nil, err
		}
		d.servers = append(d.servers, s)
	}
	a, b := d.servers[1].Target, d.servers[2].Target
	d.target = a
	d.target.API = b.API
	d.target.Pids = append(append([]int(nil), a.Pids...), b.Pids...)
	return d, nil
}
