// Command chaos checks SPEC §5's QoS 1 promise under faults (issue 9): three
// pushwire nodes share one redis-server; one subscriber per user holds a
// stream on a random node, reconnects with since=<last id> when it breaks,
// and acks every 20 messages; one publisher per user sends QoS 1 messages
// through random nodes. Meanwhile nodes are killed with SIGKILL and Redis is
// killed and restarted on the same port, at random moments, for -duration.
// At the end every publish answered 200 or 202 must have been received.
//
//	go run ./perf/chaos -duration 10m
//
// By default Redis keeps what it stored (appendonly, fsync always), so every
// loss is pushwire's. With -redis-persist=false a restarted Redis is empty
// and the messages stored before a restart and not delivered by then are
// lost by design; the tally counts them apart.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/perf"
)

var verbose = flag.Bool("v", false, "print each duplicate and out-of-order message")

type options struct {
	duration     time.Duration
	users        int
	interval     time.Duration // between two publishes of one publisher
	faultEvery   time.Duration // mean time between faults
	persist      bool
	nodeTTL      time.Duration
	settle       time.Duration
	logLevel     string
	bin, workdir string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long faults are injected")
	flag.IntVar(&o.users, "users", 20, "users: one subscriber and one publisher each")
	flag.DurationVar(&o.interval, "interval", 20*time.Millisecond, "pause between two publishes of one publisher")
	flag.DurationVar(&o.faultEvery, "fault-every", 4*time.Second, "mean time between faults")
	flag.BoolVar(&o.persist, "redis-persist", true, "Redis keeps its data across restarts (appendonly, fsync always)")
	flag.DurationVar(&o.nodeTTL, "node-ttl", 2*time.Second, "--node-ttl of the nodes")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long subscribers may take to catch up after the faults")
	flag.StringVar(&o.logLevel, "log-level", "info", "--log-level of the nodes (their logs stay in the work directory)")
	flag.StringVar(&o.bin, "bin", "", "pushwire binary (default: build ./cmd/pushwire)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// proc is a child process that can be killed and started again with the
// same command line.
type proc struct {
	name string
	args []string
	log  *os.File
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

func (p *proc) kill9() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

type node struct {
	id        string
	edge, api string
	p         *proc
	up        atomic.Bool
}

// cluster is Redis and the nodes, with fixed ports kept across restarts.
type cluster struct {
	redis     *proc
	redisAddr string
	nodes     []*node
}

func freeAddr() string {
	p, err := perf.FreePort()
	if err != nil {
		panic(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

func startCluster(o options) (*cluster, error) {
	cl := &cluster{redisAddr: freeAddr()}
	_, port, _ := net.SplitHostPort(cl.redisAddr)
	rlog, err := os.Create(filepath.Join(o.workdir, "redis.log"))
	if err != nil {
		return nil, err
	}
	args := []string{"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--dir", o.workdir}
	if o.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cl.redis = &proc{name: "redis", args: args, log: rlog}
	if err := cl.redis.start(); err != nil {
		return nil, err
	}
	if err := perf.WaitDial(cl.redisAddr, 10*time.Second); err != nil {
		return nil, err
	}
	for _, id := range []string{"a", "b", "c"} {
		n := &node{id: id, edge: freeAddr(), api: freeAddr()}
		nlog, err := os.Create(filepath.Join(o.workdir, "node-"+id+".log"))
		if err != nil {
			return nil, err
		}
		n.p = &proc{name: id, log: nlog, args: []string{o.bin, "--listen", n.edge, "--api-listen", n.api,
			"--cluster-listen", freeAddr(), "--redis", "redis://" + cl.redisAddr, "--node-id", id,
			"--node-ttl", o.nodeTTL.String(), "--log-level", o.logLevel}}
		if err := cl.startNode(n); err != nil {
			return nil, err
		}
		cl.nodes = append(cl.nodes, n)
	}
	return cl, nil
}

func (cl *cluster) startNode(n *node) error {
	if err := n.p.start(); err != nil {
		return err
	}
	if err := perf.WaitDial(n.api, 20*time.Second); err != nil {
		return err
	}
	n.up.Store(true)
	return nil
}

// pick returns a random node that is up (or any, when none is).
func (cl *cluster) pick() *node {
	for range 10 {
		if n := cl.nodes[rand.IntN(len(cl.nodes))]; n.up.Load() {
			return n
		}
	}
	return cl.nodes[rand.IntN(len(cl.nodes))]
}

// tally is what happened to the messages of one user.
type tally struct {
	mu        sync.Mutex
	answered  map[string]answerInfo // id → answer of a 200/202 publish
	statuses  map[string]int        // "200", "503", "error", …
	received  map[string]int        // id → copies received
	resends   int                   // copies flagged "resend"
	dupsPlain int                   // second copies not flagged
	disorder  int                   // unflagged message older than the previous unflagged one on a stream
	odd       []string              // ids of those duplicates and out-of-order messages
	after     []string              // for out-of-order ones (in order, after the duplicates' ids): the newer id read before
	streams   int                   // streams opened
	acked     int
}

type answerInfo struct {
	at     time.Time
	status int
	node   string
}

func newTally() *tally {
	return &tally{answered: map[string]answerInfo{}, statuses: map[string]int{}, received: map[string]int{}}
}

var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func publisher(cl *cluster, user string, t *tally, o options, stop <-chan struct{}) {
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		case <-time.After(o.interval):
		}
		n := cl.pick()
		req, _ := http.NewRequest("POST", "http://"+n.api+"/pub/user/"+user, strings.NewReader(strconv.Itoa(seq)))
		req.Header.Set("Push-QoS", "1")
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		t.mu.Lock()
		if err != nil {
			t.statuses["error"]++
			t.mu.Unlock()
			continue
		}
		var a struct {
			ID string `json:"id"`
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		json.Unmarshal(b, &a)
		t.statuses[strconv.Itoa(resp.StatusCode)]++
		if (resp.StatusCode == 200 || resp.StatusCode == 202) && a.ID != "" {
			t.answered[a.ID] = answerInfo{at: time.Now(), status: resp.StatusCode, node: n.id}
		}
		t.mu.Unlock()
	}
}

type packet struct {
	Protocol int    `json:"protocol"`
	ID       string `json:"id"`
	Resend   bool   `json:"resend"`
}

// subscriber holds a stream of user on a random node, reconnecting with
// since=<last id received> when it breaks, and acks every 20 messages.
func subscriber(cl *cluster, user string, t *tally, stop <-chan struct{}) {
	var since string
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := cl.pick()
		since = stream(n, user, since, t, stop)
		time.Sleep(50 * time.Millisecond)
	}
}

func stream(n *node, user, since string, t *tally, stop <-chan struct{}) string {
	c, err := net.DialTimeout("tcp", n.edge, time.Second)
	if err != nil {
		return since
	}
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			c.Close()
		case <-done:
		}
	}()
	q := "user=" + user
	if since != "" {
		q += "&since=" + since
	}
	fmt.Fprintf(c, "GET /sub?%s HTTP/1.1\r\nHost: chaos\r\n\r\n", q)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		return since
	}
	key := resp.Header.Get("Push-Conn")
	t.mu.Lock()
	t.streams++
	t.mu.Unlock()
	br := bufio.NewReader(resp.Body)
	since0 := since
	var last uint64
	count := 0
	for {
		c.SetReadDeadline(time.Now().Add(60 * time.Second)) // heartbeats come every 25 s
		line, err := br.ReadBytes('\n')
		if err != nil {
			return since
		}
		var p packet
		if json.Unmarshal(line, &p) != nil || p.Protocol != 2 {
			continue
		}
		id, _ := strconv.ParseUint(p.ID, 10, 64)
		t.mu.Lock()
		t.received[p.ID]++
		switch {
		case p.Resend:
			t.resends++
		case t.received[p.ID] > 1:
			t.dupsPlain++
			t.odd = append(t.odd, p.ID)
			if *verbose {
				fmt.Printf("%s  unflagged duplicate: user %s id %s on node %s (stream since %s, %d read)\n", time.Now().Format("15:04:05.000"), user, p.ID, n.id, since0, count)
			}
		case id < last:
			t.disorder++
			t.odd = append(t.odd, p.ID)
			t.after = append(t.after, strconv.FormatUint(last, 10))
			if *verbose {
				fmt.Printf("%s  out of order: user %s id %s after %d on node %s (stream since %s, %d read)\n", time.Now().Format("15:04:05.000"), user, p.ID, last, n.id, since0, count)
			}
		}
		t.mu.Unlock()
		if !p.Resend {
			last = max(last, id)
		}
		if id > 0 && (since == "" || id > mustUint(since)) {
			since = p.ID
		}
		if count++; count%20 == 0 {
			go func(id string) {
				resp, err := httpClient.Post("http://"+n.edge+"/ack?conn="+key+"&id="+id, "text/plain", nil)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						t.mu.Lock()
						t.acked++
						t.mu.Unlock()
					}
				}
			}(p.ID)
		}
	}
}

func mustUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// faults injects one fault at a time until stop: a node killed with SIGKILL
// and started again, or Redis killed and started again on its port.
func faults(cl *cluster, o options, stop <-chan struct{}, log func(string, ...any)) (nodeKills, redisRestarts int, restarts []time.Time) {
	for {
		wait := time.Duration(rand.ExpFloat64() * float64(o.faultEvery))
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		down := time.Duration(200+rand.IntN(1800)) * time.Millisecond
		if rand.IntN(3) == 0 {
			cl.redis.kill9()
			restarts = append(restarts, time.Now())
			time.Sleep(down)
			if err := cl.redis.start(); err != nil {
				log("redis restart failed: %v", err)
				return
			}
			perf.WaitDial(cl.redisAddr, 10*time.Second)
			redisRestarts++
			log("redis killed and restarted (down %v)", down)
			continue
		}
		n := cl.nodes[rand.IntN(len(cl.nodes))]
		n.up.Store(false)
		n.p.kill9()
		time.Sleep(down)
		if err := cl.startNode(n); err != nil {
			log("node %s restart failed: %v", n.id, err)
			return
		}
		nodeKills++
		log("node %s killed and restarted (down %v)", n.id, down)
	}
}

func run(o options) error {
	var err error
	if o.workdir, err = os.MkdirTemp("", "pushwire-chaos-"); err != nil {
		return err
	}
	if o.bin == "" {
		if o.bin, err = perf.BuildPushwire("."); err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(o.bin))
	}
	start := time.Now()
	logf := func(f string, a ...any) {
		fmt.Printf("%7.1fs %s  %s\n", time.Since(start).Seconds(), time.Now().Format("15:04:05.000"), fmt.Sprintf(f, a...))
	}
	cl, err := startCluster(o)
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range cl.nodes {
			n.p.kill9()
		}
		cl.redis.kill9()
	}()
	logf("3 nodes and redis-server %s up (persist=%v); logs in %s", cl.redisAddr, o.persist, o.workdir)

	tallies := make([]*tally, o.users)
	stopPub, stopSub, stopFaults := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var pubs, subs sync.WaitGroup
	for i := range tallies {
		t, user := newTally(), "chaos"+strconv.Itoa(i)
		tallies[i] = t
		subs.Add(1)
		go func() { defer subs.Done(); subscriber(cl, user, t, stopSub) }()
	}
	time.Sleep(time.Second)
	for i, t := range tallies {
		user := "chaos" + strconv.Itoa(i)
		pubs.Add(1)
		go func() { defer pubs.Done(); publisher(cl, user, t, o, stopPub) }()
	}
	var nodeKills, redisRestarts int
	var restarts []time.Time
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		nodeKills, redisRestarts, restarts = faults(cl, o, stopFaults, logf)
	}()
	time.Sleep(o.duration)
	close(stopFaults)
	<-faultsDone
	logf("faults stopped: %d node kills, %d Redis restarts; publishing 5 s more without faults", nodeKills, redisRestarts)
	time.Sleep(5 * time.Second)
	close(stopPub)
	pubs.Wait()

	missing := func() (total, byRestart int) {
		for _, t := range tallies {
			t.mu.Lock()
			for id, a := range t.answered {
				if t.received[id] == 0 {
					total++
					for _, r := range restarts {
						if !o.persist && r.After(a.at) {
							byRestart++
							break
						}
					}
				}
			}
			t.mu.Unlock()
		}
		return total, byRestart
	}
	deadline := time.Now().Add(o.settle)
	for {
		total, byRestart := missing()
		if total == byRestart || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stopSub)

	sum := newTally()
	for _, t := range tallies {
		t.mu.Lock()
		for k, v := range t.statuses {
			sum.statuses[k] += v
		}
		for id := range t.answered {
			sum.answered[id] = answerInfo{}
		}
		for id, n := range t.received {
			sum.received[id] += n
		}
		for _, id := range t.odd {
			if _, ok := t.answered[id]; ok {
				sum.odd = append(sum.odd, id)
			}
		}
		sum.resends += t.resends
		sum.dupsPlain += t.dupsPlain
		sum.disorder += t.disorder
		sum.streams += t.streams
		sum.acked += t.acked
		t.mu.Unlock()
	}
	total, byRestart := missing()
	receivedAnswered := 0
	for id := range sum.answered {
		if sum.received[id] > 0 {
			receivedAnswered++
		}
	}
	fmt.Printf("\nchaos: %v of faults (%d node kills, %d Redis restarts, redis-persist=%v), %d users, a publish every %v per user\n",
		o.duration, nodeKills, redisRestarts, o.persist, o.users, o.interval)
	fmt.Printf("publishes: %v\n", sum.statuses)
	fmt.Printf("answered 200/202: %d; received: %d; lost: %d", len(sum.answered), receivedAnswered, total-byRestart)
	if !o.persist {
		fmt.Printf(" (+%d stored before a Redis restart that kept nothing)", byRestart)
	}
	fmt.Printf("\nstreams opened: %d; acks answered 200: %d; copies flagged resend: %d; unflagged duplicates: %d; out of order: %d\n",
		sum.streams, sum.acked, sum.resends, sum.dupsPlain, sum.disorder)
	if *verbose {
		for _, t := range tallies {
			for _, id := range t.odd {
				a := t.answered[id]
				fmt.Printf("odd %s: answered %d by %s at %s\n", id, a.status, a.node, a.at.Format("15:04:05.000"))
			}
			for _, id := range t.after {
				a := t.answered[id]
				fmt.Printf("  newer one read before: %s answered %d by %s at %s\n", id, a.status, a.node, a.at.Format("15:04:05.000"))
			}
		}
	}
	fmt.Printf("of those duplicates and out-of-order messages, %d were answered 200/202 (the others were answered 503: stored, but their node was not reached)\n", len(sum.odd))
	if total-byRestart > 0 {
		return fmt.Errorf("%d messages answered 200/202 were never received (logs in %s)", total-byRestart, o.workdir)
	}
	os.RemoveAll(o.workdir) // nothing to look into
	return nil
}
