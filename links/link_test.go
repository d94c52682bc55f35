package links

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// recorder is a Handler that records the ids it saw.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) handle(p *Push) Result {
	r.mu.Lock()
	r.ids = append(r.ids, p.ID)
	r.mu.Unlock()
	if p.To == "conn:missing" {
		return Result{Err: "no live connection"}
	}
	return Result{Delivered: len(p.Data)}
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func newLinks(t testing.TB, store *cluster.MemStore, self string, o LinkOptions) *Links {
	o.Logger = quiet
	l := NewLinks(self, cluster.NewMemDirectory(store, cluster.Node{ID: self}, nil), o)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLinkForwardsArriveInOrder(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	a := newLinks(t, store, "a", LinkOptions{})

	// 2,000 forwards, one after the other.
	for i := 0; i < 2000; i++ {
		r, err := a.Forward(bg, "b", &Push{ID: strconv.Itoa(i), To: "user:1", Data: []byte("xy")})
		if err != nil || r.Delivered != 2 {
			t.Fatalf("Forward %d = %+v, %v; want Delivered 2", i, r, err)
		}
	}
	// 2,000 more as one batch.
	ps := make([]*Push, 2000)
	for i := range ps {
		ps[i] = &Push{ID: strconv.Itoa(2000 + i), To: "user:1"}
	}
	if _, err := a.ForwardBatch(bg, "b", ps); err != nil {
		t.Fatal(err)
	}
	ids := rec.seen()
	if len(ids) != 4000 {
		t.Fatalf("handler saw %d pushes; want 4000", len(ids))
	}
	for i, id := range ids {
		if id != strconv.Itoa(i) {
			t.Fatalf("push %d arrived as %s; want in order", i, id)
		}
	}
	s := a.Stats()
	if s.Dials != 1 || s.Links != 1 {
		t.Errorf("Stats = %+v; want one link, dialled once", s)
	}
}

// Concurrent senders share the link: each sender's pushes keep their order and many ride
// one write.
func TestLinkConcurrentSendersCoalesce(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	a := newLinks(t, store, "a", LinkOptions{})
	const senders, each = 8, 500
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := a.Forward(bg, "b", &Push{ID: fmt.Sprintf("%d/%d", s, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]int, senders)
	for _, id := range rec.seen() {
		var s, i int
		fmt.Sscanf(id, "%d/%d", &s, &i)
		if i != next[s] {
			t.Fatalf("sender %d: push %d arrived when %d was due", s, i, next[s])
		}
		next[s]++
	}
	st := a.Stats()
	t.Logf("%d pushes in %d writes", st.Sent, st.Writes)
	if st.Writes >= st.Sent {
		t.Errorf("%d pushes cost %d writes; want fewer writes than pushes", st.Sent, st.Writes)
	}
}

func TestLinkBatchResults(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	a := newLinks(t, store, "a", LinkOptions{})
	res, err := a.ForwardBatch(bg, "b", []*Push{
		{ID: "1", To: "user:1", Data: []byte("abc")},
		{ID: "2", To: "conn:missing"},
		{ID: "3", To: "topic:t", Data: []byte("a")},
	})
	want := []Result{{Delivered: 3}, {Err: "no live connection"}, {Delivered: 1}}
	if err != nil || len(res) != 3 || res[0] != want[0] || res[1] != want[1] || res[2] != want[2] {
		t.Errorf("ForwardBatch = %+v, %v; want %+v, nil", res, err, want)
	}
}

// A link cut fails the requests in flight on it (never silently lost), and the next push
// redials.
func TestLinkCutFailsInFlightAndReconnects(t *testing.T) {
	store := cluster.NewMemStore()
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	ln := startNode(t, cluster.NewMemStore(), "b-real", func(p *Push) Result {
		if p.ID == "block" {
			entered <- struct{}{}
			<-gate
		}
		return Result{Delivered: 1}
	})
	px := startProxy(t, ln.addr)
	cluster.NewMemDirectory(store, cluster.Node{ID: "b", Addr: px.addr()}, nil).Start(bg)
	a := newLinks(t, store, "a", LinkOptions{})
	defer close(gate)

	if _, err := a.Forward(bg, "b", &Push{ID: "warm"}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() {
		_, err := a.Forward(bg, "b", &Push{ID: "block"})
		errc <- err
	}()
	<-entered
	go func() { // queued behind the blocked one
		_, err := a.Forward(bg, "b", &Push{ID: "behind"})
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	px.cut()
	for i := 0; i < 2; i++ {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrLinkDown) {
				t.Errorf("in-flight Forward after cut = %v; want ErrLinkDown", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("in-flight Forward did not return after the link was cut")
		}
	}
	if r, err := a.Forward(bg, "b", &Push{ID: "after"}); err != nil || r.Delivered != 1 {
		t.Errorf("Forward after cut = %+v, %v; want Delivered 1 over a new link", r, err)
	}
	if s := a.Stats(); s.Dials != 2 {
		t.Errorf("Dials = %d; want 2", s.Dials)
	}
}

func TestLinkDialFailures(t *testing.T) {
	store := cluster.NewMemStore()
	cluster.NewMemDirectory(store, cluster.Node{ID: "gone", Addr: "127.0.0.1:1"}, nil).Start(bg)
	a := newLinks(t, store, "a", LinkOptions{BackoffMin: 200 * time.Millisecond})
	start := time.Now()
	if _, err := a.Forward(bg, "gone", &Push{ID: "1"}); !errors.Is(err, ErrLinkDown) {
		t.Errorf("Forward to a closed port = %v; want ErrLinkDown", err)
	}
	// During the backoff a push fails at once rather than waiting.
	if _, err := a.Forward(bg, "gone", &Push{ID: "2"}); !errors.Is(err, ErrLinkDown) {
		t.Errorf("Forward during backoff = %v; want ErrLinkDown", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("failing Forwards took %v; want fast", el)
	}
	if _, err := a.Forward(bg, "nobody", &Push{ID: "3"}); !errors.Is(err, cluster.ErrUnknownNode) {
		t.Errorf("Forward to an unknown node = %v; want cluster.ErrUnknownNode", err)
	}
}

// A peer that stops answering fills the queue: senders block briefly, then get ErrBackpressure.
func TestLinkBackpressure(t *testing.T) {
	store := cluster.NewMemStore()
	gate := make(chan struct{})
	startNode(t, store, "b", func(p *Push) Result { <-gate; return Result{} })
	defer close(gate)
	a := newLinks(t, store, "a", LinkOptions{MaxInFlight: 4, QueueWait: 50 * time.Millisecond})
	for i := 0; i < 4; i++ {
		go a.Forward(bg, "b", &Push{ID: strconv.Itoa(i)})
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	_, err := a.Forward(bg, "b", &Push{ID: "over"})
	if !errors.Is(err, ErrBackpressure) {
		t.Errorf("Forward past MaxInFlight = %v; want ErrBackpressure", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > time.Second {
		t.Errorf("Forward past MaxInFlight returned after %v; want about QueueWait (50ms)", el)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	if _, err := a.Forward(ctx, "b", &Push{ID: "ctx"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Forward with a 10ms deadline = %v; want DeadlineExceeded", err)
	}
}

func TestLinksClose(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startNode(t, store, "b", rec.handle)
	a := NewLinks("a", cluster.NewMemDirectory(store, cluster.Node{ID: "a"}, nil), LinkOptions{Logger: quiet})
	if _, err := a.Forward(bg, "b", &Push{ID: "1"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := a.Forward(bg, "b", &Push{ID: "2"}); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Forward after Close = %v; want cluster.ErrClosed", err)
	}
}
