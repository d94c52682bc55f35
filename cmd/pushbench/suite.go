package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/perf"
)

func runSuite(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	conns := fs.Int("conns", 15000, "subscribers per scenario")
	rounds := fs.Int("rounds", 1, "rounds, alternating the targets; tables show medians")
	repo := fs.String("repo", ".", "pushwire module root (builds ./cmd/pushwire, holds BENCHMARKS.md)")
	bin := fs.String("pushwire-bin", "", "use this pushwire binary instead of building ./cmd/pushwire")
	script := fs.String("nchan-script", "../shared/peers/nchan/start.sh", "nchan start script (relative to --repo)")
	cfScript := fs.String("centrifugo-script", "../shared/peers/centrifugo/start.sh", "centrifugo start script (relative to --repo; builds Centrifugo on first use, ~3 min)")
	targets := fs.String("targets", "pushwire,floor,nchan,centrifugo", "targets to run, comma-separated (pushwire, floor, nchan, centrifugo)")
	serverCPUs := fs.String("server-cpus", "0", "taskset CPU list for the servers")
	loadCPUs := fs.String("load-cpus", "1", "taskset CPU list for pushbench and its workers (empty: no pinning)")
	out := fs.String("out", "", "write the JSON results here instead of stdout")
	bench := fs.String("benchmarks", "BENCHMARKS.md", "file whose generated section is rewritten (relative to --repo; empty: none)")
	publishers := fs.Int("publishers", 50, "keep-alive publishers for unicast")
	pipeConns := fs.Int("pipeline-conns", 8, "connections for the pipelined and batch unicast variants")
	pipeline := fs.Int("pipeline", 16, "pipelined requests per connection")
	rawPipe := fs.Bool("raw-pipeline", true, "pipelined variant uses pushbench's lean client (fasthttp.PipelineClient costs as much client CPU per message as the server)")
	batch := fs.Int("batch", 100, "messages per POST /pub in the pushwire batch variant")
	coBatch := fs.Int("coalesce-batch", 1000, "messages per POST /pub in the coalescing variant")
	coRepeat := fs.Int("coalesce-repeat", 50, "consecutive messages per connection in the coalescing variant (0: skip it)")
	fixedRate := fs.Float64("fixed-rate", 30000, "messages per second of the paced unicast variant, below both servers' top rate (0: skip it)")
	coConns := fs.Int("coalesce-conns", 64, "publisher connections in the coalescing variant (8 left the server at ~30% of its core: the publishers' round trips set the rate)")
	perConn := fs.Int("messages-per-conn", 4, "unicast messages per subscriber (enough CPU time for 10 ms /proc ticks)")
	publishes := fs.Int("publishes", 20, "broadcast publishes")
	drain := fs.Duration("drain", 3*time.Second, "wait this long without new deliveries before counting the rest lost")
	benchtime := fs.String("benchtime", "", "go test -benchtime for the micro-benchmarks")
	cluster := fs.Bool("cluster", true, "also run the cross-node variant (two pushwire nodes on a throwaway redis-server)")
	micro := fs.Bool("micro", true, "run the go test -bench micro-benchmarks")
	perWorker := fs.Int("per-worker", 15000, "subscribers per worker process")
	plotDir := fs.String("plot-dir", "benchmarks", "write a latency CDF per scenario here (<scenario>.svg; relative to --repo; empty: none), next to the tables they belong to")
	_ = fs.Parse(args)

	// Pin before anything starts, so that worker processes inherit the load CPUs.
	if *loadCPUs != "" && !perf.PinnedTo(*loadCPUs) {
		return reexecPinned(*loadCPUs)
	}
	abs, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	kinds, err := parseKinds(*targets)
	if err != nil {
		return err
	}
	sc := perf.SuiteConfig{RepoDir: abs, PushwireBin: *bin, NchanScript: rel(abs, *script),
		CentrifugoScript: rel(abs, *cfScript), Targets: kinds,
		ServerCPUs: *serverCPUs, Rounds: *rounds, PipelineConns: *pipeConns, PipelineDepth: *pipeline,
		Batch: *batch, CoalesceBatch: *coBatch, CoalesceRepeat: *coRepeat, CoalesceConns: *coConns, FixedRate: *fixedRate, RawPipeline: *rawPipe, BenchTime: *benchtime, SkipMicro: !*micro, Cluster: *cluster, Command: "pushbench suite " + shellJoin(args),
		Base: perf.Options{N: *conns, PerWorker: *perWorker, Exe: exe, Messages: *conns * *perConn,
			Publishes: *publishes, Drain: *drain, Log: logf, Pub: perf.PubConfig{Conns: *publishers}}}
	res, err := perf.RunSuite(ctx, sc)
	if err != nil {
		return err
	}
	section := perf.RenderSuite(res)
	fmt.Fprint(os.Stderr, "\n"+section)
	if *bench != "" {
		path := rel(abs, *bench)
		if err := perf.RewriteBenchmarks(path, section); err != nil {
			return err
		}
		logf("suite: rewrote the generated section of %s", path)
	}
	if *plotDir != "" {
		if err := perf.PlotSuite(rel(abs, *plotDir), res, logf); err != nil {
			return err
		}
	}
	c := common{out: *out}
	return c.write(res, section, nil)
}

// reexecPinned replaces this process with "taskset -c cpus <self> <args>": affinity set
// from inside Go would cover one thread only, while taskset covers the whole process and
// the workers it starts.
func reexecPinned(cpus string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("--load-cpus needs taskset: %w", err)
	}
	logf("suite: re-running pinned to CPU %s", cpus)
	return syscall.Exec(ts, append([]string{"taskset", "-c", cpus, exe}, os.Args[1:]...), os.Environ())
}

func rel(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// shellJoin quotes args the way a shell would need them, for the command recorded in BENCHMARKS.md.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// parseKinds reads --targets, keeping perf.SuiteKinds' column order.
func parseKinds(s string) ([]perf.Kind, error) {
	want := map[perf.Kind]bool{}
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		k, err := perf.ParseKind(f)
		if err != nil {
			return nil, err
		}
		want[k] = true
	}
	var kinds []perf.Kind
	for _, k := range perf.SuiteKinds {
		if want[k] {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("--targets %q names no target", s)
	}
	return kinds, nil
}
