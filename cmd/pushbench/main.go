// Command pushbench measures a push server (pushwire, or nginx+Nchan for comparison):
// idle connection cost, unicast and broadcast throughput and latency, cross-node cost,
// and side-by-side ratios. Subscribers live in worker processes that pushbench starts as
// "pushbench worker"; results go to stdout (JSON) and progress to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/perf"
)

const usage = `usage: pushbench <command> [flags]

commands:
  idle       N idle subscribers: server RSS per connection, goroutines, connect rate
  unicast    N subscribers on distinct keys/channels, messages published to each
  broadcast  N subscribers on one topic/channel, M publishes: time to all
  cluster    unicast with subscribers on --edge (node A) and publishes to --api (node B);
             for Nchan, two instances sharing one Redis
  compare    one scenario against pushwire and a peer (--peer nchan, centrifugo or floor),
             alternating rounds, medians, ratio
  suite      build and start pushwire, nchan, centrifugo and the floor, run
             idle/unicast/broadcast on each, print pushwire's ratios to the floor and to
             each peer, rewrite the results section of BENCHMARKS.md
  floor-server  serve the floor (perf/floor.go) on --listen until killed: the bare
             write loop that is the "floor" target
  worker     (internal) hold subscribers for a parent pushbench

run "pushbench <command> -h" for its flags
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	if cmd == "worker" {
		if err := perf.Serve(os.Stdin, os.Stdout); err != nil {
			fatal(err)
		}
		return
	}
	if cmd == "floor-server" {
		if err := runFloorServer(args); err != nil {
			fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "idle", "unicast", "broadcast", "cluster":
		err = runScenario(ctx, cmd, args)
	case "compare":
		err = runCompare(ctx, args)
	case "suite":
		err = runSuite(ctx, args)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "pushbench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// common holds the flags every scenario shares.
type common struct {
	conns, perWorker, publishers, pipeline, batch, size, messages, publishes, repeat int
	rate                                                                             float64
	settle, drain                                                                    time.Duration
	inproc, byUser, rawPipeline, spread, tls                                         bool
	out, md, plot                                                                    string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.IntVar(&c.conns, "conns", 1000, "subscribers")
	fs.IntVar(&c.perWorker, "per-worker", 15000, "subscribers per worker process (open-files limit is 20000)")
	fs.BoolVar(&c.spread, "source-ips", false, "bind each worker to its own 127.0.0.x even below 25,000 subscribers")
	fs.BoolVar(&c.inproc, "inproc", false, "hold subscribers in this process instead of worker processes")
	fs.BoolVar(&c.tls, "tls", false, "subscribers connect to the edge over TLS (any certificate; publishes stay plaintext to the API), at most 6,000 per worker: three descriptors each")
	fs.IntVar(&c.publishers, "publishers", 50, "keep-alive publisher connections")
	fs.IntVar(&c.pipeline, "pipeline", 1, "requests in flight per publisher connection (fasthttp PipelineClient when > 1)")
	fs.BoolVar(&c.rawPipeline, "raw-pipeline", false, "pipeline with pushbench's lean client (one write per window) instead of fasthttp.PipelineClient")
	fs.IntVar(&c.batch, "batch", 1, "messages per POST /pub (pushwire batch publish)")
	fs.Float64Var(&c.rate, "rate", 0, "messages per second over all publishers (0: as fast as possible)")
	fs.IntVar(&c.size, "size", 0, "pad payloads to this many bytes")
	fs.IntVar(&c.messages, "messages", 0, "unicast messages (0: one per subscriber)")
	fs.IntVar(&c.repeat, "repeat", 1, "unicast: consecutive messages to each subscriber (with --batch, lets writes coalesce)")
	fs.IntVar(&c.publishes, "publishes", 20, "broadcast publishes")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "idle: wait before reading server RSS")
	fs.DurationVar(&c.drain, "drain", 3*time.Second, "wait this long without new deliveries before counting the rest lost")
	fs.BoolVar(&c.byUser, "by-user", false, "pushwire unicast: publish to /pub/user/<id> instead of /pub/conn/<key>")
	fs.StringVar(&c.out, "out", "", "write JSON results here instead of stdout")
	fs.StringVar(&c.md, "md", "", "also write a Markdown table here")
	fs.StringVar(&c.plot, "plot", "", "write a latency CDF here (.svg or .png)")
}

func (c *common) options(t perf.Target) (perf.Options, error) {
	o := perf.Options{Target: t, N: c.conns, PerWorker: c.perWorker, Messages: c.messages,
		Repeat: c.repeat, Publishes: c.publishes, Settle: c.settle, Drain: c.drain, Log: logf,
		Pub: perf.PubConfig{Conns: c.publishers, Pipeline: c.pipeline, Batch: c.batch, Rate: c.rate, Size: c.size,
			RawPipeline: c.rawPipeline}}
	o.Target.ByUser = c.byUser
	o.Target.TLS = c.tls
	if t.H2Streams > 0 && t.Kind != perf.KindPushwire && !c.tls {
		return o, fmt.Errorf("--h2-streams: only the pushwire target speaks h2c here (with --tls, every target speaks h2 by ALPN)")
	}

	o.SpreadSourceIPs = c.spread
	if !c.inproc {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		o.Exe = exe
	}
	return o, nil
}

// targetFlags names one target.
type targetFlags struct {
	kind, edge, api, format, pids string
	h2Streams                     int
}

func (tf *targetFlags) register(fs *flag.FlagSet, prefix, kind string) {
	if prefix == "" {
		fs.StringVar(&tf.kind, "target", kind, "pushwire, nchan, centrifugo or floor")
	} else {
		tf.kind = kind
	}
	fs.StringVar(&tf.edge, prefix+"edge", "", "subscriber address host:port (default pushwire 127.0.0.1:8080, nchan 127.0.0.1:8088)")
	fs.StringVar(&tf.api, prefix+"api", "", "publish address host:port (default pushwire 127.0.0.1:8081, nchan: the edge)")
	fs.StringVar(&tf.format, prefix+"format", "", "stream format: ndjson, sse or chunked (default pushwire ndjson, nchan sse)")
	fs.StringVar(&tf.pids, prefix+"server-pid", "", "server pid(s), comma-separated, for RSS and CPU (nginx: the worker)")
	fs.IntVar(&tf.h2Streams, prefix+"h2-streams", 0, "hold the subscribers as HTTP/2 streams, this many per connection: h2c with prior knowledge (pushwire), or with --tls h2 by ALPN (any target); 0 = one HTTP/1.1 connection each")
}

func (tf *targetFlags) target() (perf.Target, error) {
	k, err := perf.ParseKind(tf.kind)
	if err != nil {
		return perf.Target{}, err
	}
	t := perf.Target{Kind: k, Edge: tf.edge, API: tf.api, H2Streams: tf.h2Streams}
	format := tf.format
	switch {
	case k == perf.KindNchan:
		t.Edge = cmpOr(t.Edge, "127.0.0.1:8088")
		t.API = cmpOr(t.API, t.Edge)
		format = cmpOr(format, "sse")
	case k == perf.KindCentrifugo:
		t.Edge = cmpOr(t.Edge, "127.0.0.1:8000")
		t.API = cmpOr(t.API, t.Edge)
		format = "sse" // uni_sse is the only stream pushbench reads from Centrifugo
	case k == perf.KindFloor:
		t.Edge = cmpOr(t.Edge, "127.0.0.1:8090")
		t.API = cmpOr(t.API, t.Edge)
		format = "sse" // the floor writes "data: <payload>\n\n" frames only
	default:
		t.Edge = cmpOr(t.Edge, "127.0.0.1:8080")
		t.API = cmpOr(t.API, "127.0.0.1:8081")
		format = cmpOr(format, "ndjson")
	}
	if t.Format, err = perf.ParseFormat(format); err != nil {
		return t, err
	}
	t.Pids, err = parsePids(tf.pids)
	return t, err
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parsePids(s string) ([]int, error) {
	var pids []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func runScenario(ctx context.Context, name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var c common
	var tf targetFlags
	c.register(fs)
	tf.register(fs, "", "pushwire")
	_ = fs.Parse(args)
	t, err := tf.target()
	if err != nil {
		return err
	}
	o, err := c.options(t)
	if err != nil {
		return err
	}
	run, err := perf.Scenario(name)
	if err != nil {
		return err
	}
	r, err := run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, "\n"+perf.MarkdownResults([]*perf.Result{r}))
	return c.write(r, perf.MarkdownResults([]*perf.Result{r}), map[string]*perf.Latency{r.Target: r.Hist()})
}

// write emits the JSON results, the optional Markdown file and the optional plot.
func (c *common) write(v any, md string, hists map[string]*perf.Latency) error {
	out := os.Stdout
	if c.out != "" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	if err := perf.WriteJSON(out, v); err != nil {
		return err
	}
	if c.md != "" {
		if err := os.WriteFile(c.md, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if c.plot != "" {
		return perf.PlotCDF(c.plot, "publish → receipt latency", hists)
	}
	return nil
}

func runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	var c common
	var pw, nc targetFlags
	c.register(fs)
	pw.register(fs, "pushwire-", "pushwire")
	nc.register(fs, "nchan-", "nchan")
	peer := fs.String("peer", "nchan", "the other target: nchan, centrifugo or floor (its address flags are still --nchan-*)")
	scenario := fs.String("scenario", "unicast", "idle, unicast or broadcast")
	rounds := fs.Int("rounds", 3, "rounds per target (A B A B ...)")
	_ = fs.Parse(args)
	nc.kind = *peer
	ta, err := pw.target()
	if err != nil {
		return err
	}
	tb, err := nc.target()
	if err != nil {
		return err
	}
	oa, err := c.options(ta)
	if err != nil {
		return err
	}
	ob, err := c.options(tb)
	if err != nil {
		return err
	}
	cmp, err := perf.Compare(ctx, *scenario, oa, ob, *rounds)
	if err != nil {
		return err
	}
	md := perf.MarkdownComparison(cmp)
	fmt.Fprint(os.Stderr, "\n"+md)
	hists := map[string]*perf.Latency{}
	if n := len(cmp.RunsA); n > 0 && cmp.RunsA[n-1].Hist() != nil {
		hists[cmp.A] = cmp.RunsA[n-1].Hist()
		hists[cmp.B] = cmp.RunsB[n-1].Hist()
	}
	return c.write(cmp, md, hists)
}

// runFloorServer serves the floor until SIGTERM or SIGINT ends the process.
func runFloorServer(args []string) error {
	fs := flag.NewFlagSet("floor-server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	_ = fs.Parse(args)
	f, err := perf.StartFloorServer(*listen)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
		return f.Close()
	case <-f.Done():
		return f.Close()
	}
}
