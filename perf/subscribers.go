package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// PoolConfig says how many subscribers to hold and how to spread them over workers.
type PoolConfig struct {
	Target Target
	N      int
	// Prefix names subscribers Prefix+i (or the one shared topic/channel Prefix).
	Prefix string
	Shared bool
	// PerWorker caps subscribers per worker process (the open-files limit is 20000).
	PerWorker int
	// Exe is the pushbench binary to run as "Exe worker"; empty runs workers in-process
	// (tests, small runs), which shares this process's open-files limit.
	Exe string
	// Concurrency bounds connects in flight per worker.
	Concurrency int
	WantKeys    bool
	// SpreadSourceIPs binds each worker to its own 127.0.0.x even when N does not need it
	// (tests, and runs that must look like many client hosts).
	SpreadSourceIPs bool
	// ConnectTimeout bounds the whole connect phase.
	ConnectTimeout time.Duration
	// Topic and Reconnect: see WorkerConfig.
	Topic     string
	Reconnect *Reconnect
	// SourceIP, when set, binds every worker of the pool to it (instead of 127.0.0.x).
	SourceIP string
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Pool is the set of worker processes holding a run's subscribers.
type Pool struct {
	cfg     PoolConfig
	workers []*workerProc
	// Keys holds subscriber i's Push-Conn key when WantKeys was set.
	Keys []string
	// Connect sums the connect replies: Connected, Failed, ConnectNanos (slowest worker).
	Connect WorkerStats
}

type workerProc struct {
	cmd     *exec.Cmd // nil for an in-process worker
	in      io.WriteCloser
	replies chan wireMsg
	seqDone chan int
	done    chan struct{}
}

// sourcePortsPerIP is a safe share of the 28k ephemeral ports one source address has
// towards one destination (MACHINE.md).
const sourcePortsPerIP = 25_000

// StartPool starts the workers, connects every subscriber and returns when all are up or
// failed. On error the workers already started are stopped.
func StartPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	cfg.PerWorker = max(cfg.PerWorker, 1)
	if cfg.Target.TLS {
		cfg.PerWorker = min(cfg.PerWorker, perWorkerTLS*max(cfg.Target.H2Streams, 1))
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 256
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	p := &Pool{cfg: cfg}
	nw := (cfg.N + cfg.PerWorker - 1) / cfg.PerWorker
	spread := cfg.N > sourcePortsPerIP || cfg.SpreadSourceIPs
	for w := range nw {
		wp, err := p.spawn()
		if err != nil {
			p.Close()
			return nil, err
		}
		p.workers = append(p.workers, wp)
		wc := WorkerConfig{Target: cfg.Target, Prefix: cfg.Prefix, Shared: cfg.Shared,
			From: w * cfg.N / nw, To: (w + 1) * cfg.N / nw, Concurrency: cfg.Concurrency,
			WantKeys: cfg.WantKeys, Topic: cfg.Topic, Reconnect: cfg.Reconnect}
		switch {
		case cfg.SourceIP != "":
			wc.SourceIP = cfg.SourceIP
		case spread:
			wc.SourceIP = fmt.Sprintf("127.0.0.%d", 2+w%250)
		}
		if err := wp.send(wireMsg{Op: opConnect, Cfg: &wc}); err != nil {
			p.Close()
			return nil, err
		}
	}
	cfg.Log("connecting %d subscribers (%d workers) to %s %s", cfg.N, nw, cfg.Target.Kind, cfg.Target.Edge)
	deadline := time.After(cfg.ConnectTimeout)
	for _, wp := range p.workers {
		var m wireMsg
		select {
		case m = <-wp.replies:
		case <-deadline:
			p.Close()
			return nil, errors.New("perf: subscribers did not connect within the connect timeout")
		case <-ctx.Done():
			p.Close()
			return nil, ctx.Err()
		}
		if m.Err != "" || m.Stats == nil {
			p.Close()
			return nil, errors.New("perf: worker connect: " + m.Err)
		}
		p.Connect.Connected += m.Stats.Connected
		p.Connect.Failed += m.Stats.Failed
		p.Connect.ConnectNanos = max(p.Connect.ConnectNanos, m.Stats.ConnectNanos)
		p.Keys = append(p.Keys, m.Keys...)
	}
	cfg.Log("connected %d, failed %d in %v", p.Connect.Connected, p.Connect.Failed,
		time.Duration(p.Connect.ConnectNanos).Round(time.Millisecond))
	return p, nil
}

func (p *Pool) spawn() (*workerProc, error) {
	wp := &workerProc{replies: make(chan wireMsg, 4), seqDone: make(chan int, 4096), done: make(chan struct{})}
	var out io.Reader
	if p.cfg.Exe == "" {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		wp.in, out = inW, outR
		go func() {
			err := Serve(inR, outW)
			outW.CloseWithError(err)
		}()
	} else {
		wp.cmd = exec.Command(p.cfg.Exe, "worker")
		wp.cmd.Stderr = os.Stderr
		var err error
		if wp.in, err = wp.cmd.StdinPipe(); err != nil {
			return nil, err
		}
		if out, err = wp.cmd.StdoutPipe(); err != nil {
			return nil, err
		}
		if err := wp.cmd.Start(); err != nil {
			return nil, err
		}
	}
	go wp.readReplies(out)
	return wp, nil
}

// readReplies routes seq events to seqDone and everything else to replies.
func (wp *workerProc) readReplies(out io.Reader) {
	defer close(wp.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m wireMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = wireMsg{Op: "bad", Err: err.Error()}
		}
		if m.Op == opSeqDone {
			// Never block on it: while streams reopen (Reconnect) the live count is
			// small and every unicast seq may look "done"; a full channel must not stop
			// the replies behind it. Broadcast waits need far fewer than its capacity.
			select {
			case wp.seqDone <- m.Seq:
			default:
			}
			continue
		}
		wp.replies <- m
	}
}

func (wp *workerProc) send(m wireMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = wp.in.Write(append(b, '\n'))
	return err
}

// call sends a command and waits for its reply.
func (wp *workerProc) call(m wireMsg) (wireMsg, error) {
	if err := wp.send(m); err != nil {
		return wireMsg{}, err
	}
	select {
	case r := <-wp.replies:
		if r.Err != "" {
			return r, errors.New(r.Err)
		}
		return r, nil
	case <-wp.done:
		return wireMsg{}, errors.New("perf: worker exited")
	case <-time.After(30 * time.Second):
		return wireMsg{}, errors.New("perf: worker did not answer " + m.Op)
	}
}

// Reset zeroes every worker's counters and tracks broadcast sequence numbers below seqs.
func (p *Pool) Reset(seqs int) error {
	for _, wp := range p.workers {
		if _, err := wp.call(wireMsg{Op: opReset, Seqs: seqs}); err != nil {
			return err
		}
		for len(wp.seqDone) > 0 {
			<-wp.seqDone
		}
	}
	return nil
}

// Received sums the stamped messages received so far.
func (p *Pool) Received() (int64, error) {
	s, err := p.Stats()
	return s.Received, err
}

// Stats sums the workers' counters (no histograms or per-sequence times).
func (p *Pool) Stats() (WorkerStats, error) {
	var sum WorkerStats
	for _, wp := range p.workers {
		r, err := wp.call(wireMsg{Op: opStats})
		if err != nil {
			return sum, err
		}
		sum.add(r.Stats)
	}
	return sum, nil
}

// add sums o's counters into s: FirstRecv the earliest, LastRecv and LastResubscribe the
// latest (not histograms or per-sequence times).
func (s *WorkerStats) add(o *WorkerStats) {
	s.Connected += o.Connected
	s.Failed += o.Failed
	s.Closed += o.Closed
	s.Received += o.Received
	s.Foreign += o.Foreign
	s.Control += o.Control
	if o.FirstRecv != 0 && (s.FirstRecv == 0 || o.FirstRecv < s.FirstRecv) {
		s.FirstRecv = o.FirstRecv
	}
	s.LastRecv = max(s.LastRecv, o.LastRecv)
	s.Resubscribed += o.Resubscribed
	s.Waiting += o.Waiting
	s.LastResubscribe = max(s.LastResubscribe, o.LastResubscribe)
}

// WaitReceived polls until want stamped messages arrived, timeout passed with no progress,
// or ctx ends; it returns the count reached.
func (p *Pool) WaitReceived(ctx context.Context, want int64, idle time.Duration) (int64, error) {
	last, lastChange := int64(-1), time.Now()
	for {
		n, err := p.Received()
		if err != nil || n >= want {
			return n, err
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > idle {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitSeq waits until every worker reported broadcast seq complete, or timeout.
// Completions of other sequence numbers seen meanwhile are dropped (they are late ones).
func (p *Pool) WaitSeq(seq int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for _, wp := range p.workers {
		for {
			select {
			case s := <-wp.seqDone:
				if s != seq {
					continue
				}
			case <-deadline:
				return false
			}
			break
		}
	}
	return true
}

// Report collects and merges every worker's counters, histogram and per-sequence times.
func (p *Pool) Report() (WorkerStats, *Latency, error) {
	var sum WorkerStats
	lat := NewLatency()
	for _, wp := range p.workers {
		r, err := wp.call(wireMsg{Op: opReport})
		if err != nil {
			return sum, lat, err
		}
		s := r.Stats
		sum.add(s)
		if s.Latency != nil {
			lat.Merge(latencyFromWire(*s.Latency))
		}
		mergeSeqs(&sum, s)
	}
	return sum, lat, nil
}

func mergeSeqs(sum, s *WorkerStats) {
	if sum.SeqCount == nil {
		sum.SeqCount = make([]int32, len(s.SeqCount))
		sum.SeqFirst = make([]int64, len(s.SeqCount))
		sum.SeqLast = make([]int64, len(s.SeqCount))
	}
	for i := range min(len(sum.SeqCount), len(s.SeqCount)) {
		if s.SeqCount[i] == 0 {
			continue
		}
		if sum.SeqCount[i] == 0 || s.SeqFirst[i] < sum.SeqFirst[i] {
			sum.SeqFirst[i] = s.SeqFirst[i]
		}
		sum.SeqCount[i] += s.SeqCount[i]
		sum.SeqLast[i] = max(sum.SeqLast[i], s.SeqLast[i])
	}
}

// ClientPids lists this process and the worker processes: the load side, whose CPU per
// delivery shows whether the client could have been the bottleneck.
func (p *Pool) ClientPids() []int {
	pids := []int{os.Getpid()}
	for _, wp := range p.workers {
		if wp.cmd != nil {
			pids = append(pids, wp.cmd.Process.Pid)
		}
	}
	return pids
}

// Close stops every worker, closing its subscribers, and waits for it.
func (p *Pool) Close() {
	for _, wp := range p.workers {
		_ = wp.send(wireMsg{Op: opQuit})
		_ = wp.in.Close()
	}
	for _, wp := range p.workers {
		select {
		case <-wp.done:
		case <-time.After(10 * time.Second):
			if wp.cmd != nil {
				_ = wp.cmd.Process.Kill()
			}
		}
		if wp.cmd != nil {
			_ = wp.cmd.Wait()
		}
	}
	p.workers = nil
}
