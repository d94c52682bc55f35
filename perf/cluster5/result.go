package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushwire/pushwire/perf"
)

type result struct {
	Date        string    `json:"date"`
	Commit      string    `json:"commit"`
	Command     string    `json:"command"`
	Cores       int       `json:"cores"`
	LoadAvg     [2]string `json:"loadavg"`
	Nodes       int       `json:"nodes"`
	PerNode     int       `json:"per_node"`
	Subscribers int       `json:"subscribers"`

	Connected      int     `json:"connected"`
	ConnectFailed  int     `json:"connect_failed"`
	ConnectSeconds float64 `json:"connect_seconds"`
	// NodeRSSMiB is every node's RSS once all are subscribed (the last: the publish node);
	// NodeBytesPerConn the growth per held stream of each subscriber node.
	NodeRSSMiB       []float64 `json:"node_rss_mib"`
	NodeBytesPerConn []float64 `json:"node_bytes_per_conn"`
	// NodeHeapPerConn is the growth of the Go heap in use per stream (GET /metrics).
	NodeHeapPerConn     []float64 `json:"node_heap_per_conn"`
	KernelSlabPerSocket float64   `json:"kernel_slab_per_socket"`

	RedisUsedMemoryMiB float64          `json:"redis_used_memory_mib"`
	RedisBytesPerConn  float64          `json:"redis_bytes_per_conn"`
	RedisKeys          int64            `json:"redis_keys"`
	ConnectCommands    map[string]int64 `json:"connect_commands"`
	CommandsPerConn    float64          `json:"commands_per_conn"`
	KeyBytes           map[string]int64 `json:"key_bytes"`
	// NodeStats is the first node's GET /stats once all are subscribed (its directory's
	// round trips and commands among them).
	NodeStats map[string]any `json:"node_stats"`
	// PublishNodeRSSMiB is the publish node's RSS after unicast: its client-side cache
	// then holds every user it looked up.
	PublishNodeRSSMiB float64 `json:"publish_node_rss_mib"`
	// NodeLogs counts the directory's troubles in the nodes' logs, at the end of the run.
	NodeLogs map[string]int64 `json:"node_logs"`

	Unicast struct {
		Messages   int                 `json:"messages"`
		OK         int64               `json:"ok"`
		Received   int64               `json:"received"`
		Lost       int64               `json:"lost"`
		MsgsPerSec float64             `json:"msgs_per_sec"`
		Latency    perf.LatencySummary `json:"latency"`
		Status     map[int]int64       `json:"status"`
	} `json:"unicast"`
	Fanout struct {
		Publishes   int       `json:"publishes"`
		OK          int       `json:"ok"`
		Deliveries  int64     `json:"deliveries"`
		Expected    int64     `json:"expected"`
		TimeToAllMs []float64 `json:"time_to_all_ms"`
		MedianMs    float64   `json:"median_ms"`
	} `json:"fanout"`
	Storm struct {
		Streams            int                 `json:"streams"`
		Reopened           int                 `json:"reopened"`
		StillWaiting       int                 `json:"still_waiting"`
		AllBackSeconds     float64             `json:"all_back_seconds"`
		RedisPeakOps       float64             `json:"redis_peak_ops_100ms"`
		RedisPeakOps1s     float64             `json:"redis_peak_ops_1s"`
		RedisInstantPeak   int64               `json:"redis_instantaneous_ops_peak"`
		RedisCommands      map[string]int64    `json:"redis_commands"`
		SteadyAnswerBefore perf.LatencySummary `json:"steady_answer_before"`
		SteadyAnswerDuring perf.LatencySummary `json:"steady_answer_during"`
		SteadyStatus       map[int]int64       `json:"steady_status"`
		SurvivorReceipt    perf.LatencySummary `json:"survivor_receipt"`
		QoSStatus          map[int]int64       `json:"qos_status"`
		QoSAnswered        int                 `json:"qos_answered"`
		QoSReceived        int                 `json:"qos_received"`
		QoSLost            int                 `json:"qos_lost"`
		SurvivorRSSMiB     []float64           `json:"survivor_rss_mib"`
	} `json:"storm"`
	storm bool
}

func newResult(o options) *result {
	r := &result{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Command: strings.Join(os.Args, " "),
		Cores: runtime.NumCPU(), Nodes: o.nodes, PerNode: o.perNode, Subscribers: o.nodes * o.perNode, storm: o.storm}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	r.LoadAvg[0] = loadavg()
	return r
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// slabBytes sums the kernel's slab caches (active objects × object size): the kernel
// memory sockets take while idle (socket, TCP state, file, dentry, inode, epoll item).
func slabBytes() int64 {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		active, err1 := strconv.ParseInt(fs[1], 10, 64)
		size, err2 := strconv.ParseInt(fs[3], 10, 64)
		if err1 == nil && err2 == nil {
			total += active * size
		}
	}
	return total
}

func (r *result) markdown() string {
	r.LoadAvg[1] = loadavg()
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("\n### cluster5: %d nodes × %d subscribers (%s, commit %s, %d cores, load %s → %s)\n\n", r.Nodes, r.PerNode, r.Date, r.Commit, r.Cores, r.LoadAvg[0], r.LoadAvg[1])
	w("`%s`\n\n", r.Command)
	w("| figure | value |\n|---|---|\n")
	w("| subscribed | %d of %d (%d failed) in %.1f s |\n", r.Connected, r.Subscribers, r.ConnectFailed, r.ConnectSeconds)
	w("| node RSS (MiB; last = publish node) | %s |\n", join(r.NodeRSSMiB, 1))
	w("| node RSS growth per stream (B) | %s |\n", join(r.NodeBytesPerConn, 0))
	w("| node Go heap in use, growth per stream (B) | %s |\n", join(r.NodeHeapPerConn, 0))
	w("| kernel slab per socket (B, both ends on this machine) | %.0f |\n", r.KernelSlabPerSocket)
	w("| Redis used_memory | %.1f MiB, %.0f B per stream, %d keys |\n", r.RedisUsedMemoryMiB, r.RedisBytesPerConn, r.RedisKeys)
	w("| Redis commands while subscribing | %.3f per stream: %s |\n", r.CommandsPerConn, mapText(r.ConnectCommands))
	w("| MEMORY USAGE | %s |\n", mapText(r.KeyBytes))
	u := r.Unicast
	w("| unicast by user, via the publish node | %d sent, %d accepted, %d received, %d lost; %.0f msgs/s; publish→receipt p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; not 200: %v |\n",
		u.Messages, u.OK, u.Received, u.Lost, u.MsgsPerSec, u.Latency.P50, u.Latency.P99, u.Latency.P999, u.Status)
	w("| publish node RSS after unicast | %.1f MiB |\n", r.PublishNodeRSSMiB)
	f := r.Fanout
	w("| fan-out to one topic on every node | %d publishes, %d of %d deliveries; time to all (ms) %s, median %.1f |\n",
		f.Publishes, f.Deliveries, f.Expected, join(f.TimeToAllMs, 1), f.MedianMs)
	w("| node log events (whole run) | %s |\n", mapText(r.NodeLogs))
	if r.storm {
		s := r.Storm
		w("| storm: streams of the killed node open again | %d of %d (%d waiting); the last %.2f s after the kill |\n", s.Reopened, s.Streams, s.StillWaiting, s.AllBackSeconds)
		w("| storm: Redis commands/s at the peak | %.0f over 100 ms, %.0f over 1 s (INFO instantaneous_ops_per_sec peak %d) |\n", s.RedisPeakOps, s.RedisPeakOps1s, s.RedisInstantPeak)
		w("| storm: Redis commands from 1 s before the kill to 1 s after the last reopening | %s |\n", mapText(s.RedisCommands))
		w("| storm: QoS 0 publish answer (ms), before → during | p50 %.2f → %.2f, p99 %.2f → %.2f; statuses %v |\n",
			s.SteadyAnswerBefore.P50, s.SteadyAnswerDuring.P50, s.SteadyAnswerBefore.P99, s.SteadyAnswerDuring.P99, s.SteadyStatus)
		w("| storm: publish→receipt on the surviving nodes, from the kill on | p50 %.2f ms, p99 %.2f ms, max %.1f ms (%d messages) |\n",
			s.SurvivorReceipt.P50, s.SurvivorReceipt.P99, s.SurvivorReceipt.Max, s.SurvivorReceipt.Count)
		w("| storm: QoS 1 to the killed node's users | statuses %v; answered 200/202 %d, received %d, **lost %d** |\n", s.QoSStatus, s.QoSAnswered, s.QoSReceived, s.QoSLost)
		w("| storm: survivors' RSS after (MiB; last = publish node) | %s |\n", join(s.SurvivorRSSMiB, 1))
	}
	return b.String()
}

func join(xs []float64, prec int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(parts, ", ")
}

func mapText[V int64 | int](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
