package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerPool runs jobs that mostly wait (on Redis, a peer, an auth service)
// away from the loops, on goroutines started on demand: one when a job is
// queued and no worker is idle, up to max; a worker idle for linger exits.
// So a quiet node keeps none, and as many jobs wait at once as there are
// callers waiting on them. A fixed 8 routed 50 publishers 8 at a time;
// `pushbench cluster` (5,000 subscribers, 50 publishers, A/B alternated in
// one run, 2026-11-21) went from 28.5k to 37.4k msgs/s, p50 1.35 → 0.63 ms.
type workerPool struct {
	jobs   chan func()
	max    int32
	linger time.Duration

	workers atomic.Int32 // running
	idle    atomic.Int32 // of them, waiting for a job
	wg      sync.WaitGroup
}

func newWorkerPool(max, queue int, linger time.Duration) *workerPool {
	return &workerPool{jobs: make(chan func(), queue), max: int32(max), linger: linger}
}

// submit queues job without ever blocking the caller; false when the queue
// is full.
func (p *workerPool) submit(job func()) bool {
	select {
	case p.jobs <- job:
	default:
		return false
	}
	if p.idle.Load() == 0 && p.claim() {
		p.wg.Add(1)
		go p.work()
	}
	return true
}

// claim counts a new worker in, unless max are running.
func (p *workerPool) claim() bool {
	for {
		n := p.workers.Load()
		if n >= p.max {
			return false
		}
		if p.workers.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// work runs queued jobs until none came for linger, or the pool closed.
func (p *workerPool) work() {
	defer p.wg.Done()
	for {
		select {
		case job, ok := <-p.jobs:
			if !ok {
				p.workers.Add(-1)
				return
			}
			job()
			continue
		default:
		}
		p.idle.Add(1)
		linger := time.NewTimer(p.linger)
		select {
		case job, ok := <-p.jobs:
			linger.Stop()
			p.idle.Add(-1)
			if !ok {
				p.workers.Add(-1)
				return
			}
			job()
		case <-linger.C:
			p.idle.Add(-1)
			p.workers.Add(-1)
			// A job queued while this worker still counted as idle found
			// no one started for it: take it after all.
			if len(p.jobs) > 0 && p.claim() {
				continue
			}
			return
		}
	}
}

// close runs the jobs already queued and waits for every worker to end. No
// submit may come after it.
func (p *workerPool) close() {
	close(p.jobs)
	// A queued job whose submit found a worker idle that has since left.
	if len(p.jobs) > 0 && p.claim() {
		p.wg.Add(1)
		go p.work()
	}
	p.wg.Wait()
}
