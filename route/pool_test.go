package route

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkerPoolStartsOnDemandAndLeavesWhenIdle(t *testing.T) {
	p := NewPool(4, 100, 50*time.Millisecond)
	release := make(chan struct{})
	var running, most atomic.Int32
	var done sync.WaitGroup
	for range 10 {
		done.Add(1)
		if !p.Submit(func() {
			defer done.Done()
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			running.Add(-1)
		}) {
			t.Fatal("submit refused with room in the queue")
		}
	}
	waitFor(t, "4 jobs running at once", func() bool { return running.Load() == 4 })
	if n := p.workers.Load(); n != 4 {
		t.Errorf("%d workers for 10 waiting jobs; want max = 4", n)
	}
	close(release)
	done.Wait()
	if m := most.Load(); m != 4 {
		t.Errorf("at most %d jobs ran at once; want 4", m)
	}
	waitFor(t, "idle workers to leave", func() bool { return p.workers.Load() == 0 })
	// Work after the pool emptied starts a worker again.
	ran := make(chan struct{})
	p.Submit(func() { close(ran) })
	<-ran
	p.Close()
	if n := p.workers.Load(); n != 0 {
		t.Errorf("%d workers after close; want 0", n)
	}
}

func TestWorkerPoolFullQueueAndClose(t *testing.T) {
	p := NewPool(1, 2, time.Hour)
	block := make(chan struct{})
	started := make(chan struct{})
	p.Submit(func() { close(started); <-block })
	<-started
	var ran atomic.Int32
	for range 2 {
		if !p.Submit(func() { ran.Add(1) }) {
			t.Fatal("submit refused with room in the queue")
		}
	}
	if p.Submit(func() {}) {
		t.Error("submit took a job past the queue's bound")
	}
	close(block)
	p.Close() // runs what was queued, then waits for the worker
	if ran.Load() != 2 {
		t.Errorf("close left %d of 2 queued jobs unrun", 2-ran.Load())
	}
}

// A burst arriving while one worker is idle gets a worker per job, not a
// queue behind that one.
func TestWorkerPoolBurstAfterIdle(t *testing.T) {
	p := NewPool(16, 100, time.Hour)
	defer p.Close()
	warm := make(chan struct{})
	p.Submit(func() { close(warm) })
	<-warm
	waitFor(t, "the first worker to go idle", func() bool { return p.idle.Load() == 1 })
	release := make(chan struct{})
	var running atomic.Int32
	for range 10 {
		p.Submit(func() { running.Add(1); <-release })
	}
	waitFor(t, "all 10 jobs of the burst running at once", func() bool { return running.Load() == 10 })
	close(release)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
