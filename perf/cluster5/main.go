// Command cluster5 measures a pushwire cluster of several nodes, each in its own network
// namespace (a veth pair on one bridge: each node its own address), with one
// redis-server in the root namespace (issue 17, items 3, 4 and 6):
//
//	go run ./perf/cluster5                          # 5 nodes × 15,000 subscribers, storm included
//	go run ./perf/cluster5 -per-node 19000 -storm=false   # 95,000 subscribers, no storm
//	go run ./perf/cluster5 -per-node 2000           # the quick check
//
// The subscribers live in worker processes of this binary (one per node: the open-files
// limit is 20,000 per process), as SSE streams by user that also subscribe to one shared
// topic; a sixth node holds no subscriber and takes every publish, so every message
// crosses nodes. It reports, in order:
//
//   - connect: time to subscribe everyone, node RSS per connection, Redis memory and
//     commands per connection (INFO memory, commandstats, MEMORY USAGE of sample keys),
//     kernel slab per socket;
//   - unicast: one message to each subscriber by user, msgs/s, publish→receipt p50/p99;
//   - fan-out: publishes to the shared topic, time until every subscriber on every node
//     has each one;
//   - storm (-storm): kill -9 of one node; its streams reopen on the others as
//     EventSource would (the SSE retry plus jitter, Last-Event-ID). Time until all are
//     subscribed again, Redis commands/s at the peak, publish latency on the surviving
//     nodes meanwhile, and QoS 1 messages published to the killed node's users during
//     the storm that never arrived (must be 0).
//
// A survivor ends the storm holding per-node × (1 + 1/(nodes-1)) streams, which must fit
// its 20,000 open files: hence 15,000 per node with the storm, 19,000 without.
//
// It needs root (ip netns), iproute2 and redis-server. Namespaces, bridge and processes
// are removed at exit; a run that crashed leaves namespaces named for its pid, which the
// next run removes. Results: Markdown on stdout, JSON with -json.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/perf"
)

type options struct {
	nodes, perNode  int
	pubConns        int
	messages        int
	publishes       int
	storm           bool
	steadyRate      float64
	qosWindow       time.Duration
	jitter          float64
	retry, nodeTTL  time.Duration
	drain           time.Duration
	bin, exe, out   string
	workdir         string
	inproc, keepDir bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := perf.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "cluster5 worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.nodes, "nodes", 5, "nodes holding subscribers (one more takes the publishes)")
	flag.IntVar(&o.perNode, "per-node", 15000, "subscribers per node (at most ~19,000: one worker process each; with -storm at most ~15,500, see the doc)")
	flag.IntVar(&o.pubConns, "publishers", 50, "keep-alive publisher connections for unicast")
	flag.IntVar(&o.messages, "messages", 0, "unicast messages (0: one per subscriber)")
	flag.IntVar(&o.publishes, "publishes", 5, "fan-out publishes to the shared topic")
	flag.BoolVar(&o.storm, "storm", true, "kill -9 one node and measure its subscribers' reconnect storm")
	flag.Float64Var(&o.steadyRate, "steady-rate", 500, "QoS 0 unicast publishes per second to the surviving nodes' users during the storm")
	flag.DurationVar(&o.qosWindow, "qos-window", 4*time.Second, "QoS 1 messages to the killed node's users (one each) are spread over this long from the kill")
	flag.Float64Var(&o.jitter, "jitter", 0.5, "a reopening stream waits the SSE retry times 1 + up to this")
	flag.DurationVar(&o.retry, "retry", 2*time.Second, "the nodes' --retry (the SSE retry: line)")
	flag.DurationVar(&o.nodeTTL, "node-ttl", 15*time.Second, "the nodes' --node-ttl")
	flag.DurationVar(&o.drain, "drain", 10*time.Second, "wait this long without new deliveries before counting the rest lost")
	flag.StringVar(&o.bin, "bin", "", "pushwire binary (default: build ./cmd/pushwire)")
	flag.StringVar(&o.out, "json", "", "also write the results as JSON here")
	flag.BoolVar(&o.keepDir, "keep-logs", false, "keep the nodes' logs even when the run succeeds")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, o)
	if r != nil {
		fmt.Print(r.markdown())
		if o.out != "" {
			if f, ferr := os.Create(o.out); ferr == nil {
				_ = perf.WriteJSON(f, r)
				f.Close()
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster5:", err)
		os.Exit(1)
	}
}

var start = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%7.1fs %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (*result, error) {
	if o.nodes < 2 || o.perNode < 1 || o.perNode > 19_500 {
		return nil, fmt.Errorf("want -nodes ≥ 2 and 1 ≤ -per-node ≤ 19,500")
	}
	if after := o.perNode + (o.perNode+o.nodes-2)/(o.nodes-1); o.storm && after > 19_500 {
		return nil, fmt.Errorf("with -storm a survivor would hold %d streams, past its 20,000 open files: lower -per-node or use -storm=false", after)
	}
	var err error
	if o.workdir, err = os.MkdirTemp("", "pushwire-cluster5-"); err != nil {
		return nil, err
	}
	if o.bin == "" {
		logf("building ./cmd/pushwire")
		if o.bin, err = perf.BuildPushwire("."); err != nil {
			return nil, err
		}
		defer os.RemoveAll(filepath.Dir(o.bin))
	}
	if !o.inproc && o.exe == "" {
		if o.exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cl, err := startCluster(o)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	logf("%d nodes in namespaces %s…, redis-server %s; logs in %s", o.nodes+1, cl.hosts.Names[0], cl.redisAddr, o.workdir)
	b := &bench{o: o, cl: cl, r: newResult(o)}
	err = b.all(ctx)
	b.r.NodeLogs = cl.logCounts()
	if err == nil && !o.keepDir {
		os.RemoveAll(o.workdir)
	}
	return b.r, err
}
