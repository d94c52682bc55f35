package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/perf"
)

// node is one pushwire process in its own namespace.
type node struct {
	id        string
	ip        string
	edge, api string
	cmd       *exec.Cmd
	done      chan struct{}
}

// cluster is the namespaces, one redis-server in the root namespace on the bridge, and
// the nodes: the first n hold subscribers, the last one only takes publishes.
type cluster struct {
	hosts     *perf.Hosts
	redis     *exec.Cmd
	redisAddr string
	nodes     []*node
	workdir   string
}

func startCluster(o options) (*cluster, error) {
	if removed, err := perf.CleanStaleHosts(); err != nil {
		return nil, fmt.Errorf("removing a crashed run's namespaces: %w", err)
	} else if len(removed) > 0 {
		logf("removed what a crashed run left: %v", removed)
	}
	hosts, err := perf.NewHosts(o.nodes+1, o.nodes)
	if err != nil {
		return nil, err
	}
	cl := &cluster{hosts: hosts, workdir: o.workdir}
	if err := cl.startRedis(); err != nil {
		cl.close()
		return nil, err
	}
	for i := range o.nodes + 1 {
		n := &node{id: "n" + strconv.Itoa(i), ip: hosts.IPs[i]}
		n.edge, n.api = n.ip+":8080", n.ip+":8081"
		cl.nodes = append(cl.nodes, n)
		if err := cl.startNode(o, n, i); err != nil {
			cl.close()
			return nil, err
		}
	}
	return cl, nil
}

func (cl *cluster) startRedis() error {
	port, err := perf.FreePort()
	if err != nil {
		return err
	}
	cl.redisAddr = net.JoinHostPort(cl.hosts.HostIP, strconv.Itoa(port))
	log, err := os.Create(filepath.Join(cl.workdir, "redis.log"))
	if err != nil {
		return err
	}
	cl.redis = exec.Command("redis-server", "--bind", cl.hosts.HostIP, "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", cl.workdir)
	cl.redis.Stdout, cl.redis.Stderr = log, log
	cl.redis.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cl.redis.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	return perf.WaitDial(cl.redisAddr, 10*time.Second)
}

func (cl *cluster) startNode(o options, n *node, i int) error {
	log, err := os.Create(filepath.Join(cl.workdir, n.id+".log"))
	if err != nil {
		return err
	}
	n.cmd = cl.hosts.Command(i, o.bin, "--listen", n.edge, "--api-listen", n.api,
		"--cluster-listen", n.ip+":7946", "--advertise", n.ip+":7946",
		"--redis", "redis://"+cl.redisAddr, "--node-id", n.id, "--node-ttl", o.nodeTTL.String(),
		"--retry", o.retry.String(), "--drain", "1s", "--log-level", "info")
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		return err
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	return perf.WaitDial(n.api, 20*time.Second)
}

// heapInuse reads go_memstats_heap_inuse_bytes from the node's GET /metrics: the Go heap
// in use, without what the collector freed and the runtime has not returned yet.
func (n *node) heapInuse() int64 {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + n.api + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}

// pid is the node's process: "ip netns exec" execs the command in place.
func (n *node) pid() int { return n.cmd.Process.Pid }

// kill9 kills the node at once, as a crash does, and waits for it.
func (n *node) kill9() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// stats reads the node's GET /stats.
func (n *node) stats() (map[string]any, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + n.api + "/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

func (cl *cluster) close() {
	for _, n := range cl.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			_ = n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.done
		}
	}
	if cl.redis != nil && cl.redis.Process != nil {
		_ = cl.redis.Process.Kill()
		_ = cl.redis.Wait()
	}
	if err := cl.hosts.Close(); err != nil {
		logf("cleanup: %v", err)
	}
}

// logEvents are the node log messages the run counts: the directory's troubles.
var logEvents = []string{
	"cluster: redis directory in sync",
	"cluster: redis directory unreachable",
	"cluster: redis heartbeat got no answer in time",
	"cluster: redis directory write failed",
	"cluster: node registration was lost",
	"accept failed",
}

// logCounts counts logEvents in every node's log so far; a node's first "in sync" is its
// registration at start, not a re-sync.
func (cl *cluster) logCounts() map[string]int64 {
	out := map[string]int64{}
	for _, n := range cl.nodes {
		b, err := os.ReadFile(filepath.Join(cl.workdir, n.id+".log"))
		if err != nil {
			continue
		}
		first := true
		for line := range strings.Lines(string(b)) {
			for _, e := range logEvents {
				if !strings.Contains(line, e) {
					continue
				}
				if e == logEvents[0] && first {
					first = false // the registration at start
					continue
				}
				out[e]++
			}
		}
	}
	return out
}
