package links

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// LinkOptions configures Links. Zero values take the defaults named.
type LinkOptions struct {
	QueueBytes  int           // encoded frames waiting for a link's writer; 0 = 4 MiB
	MaxInFlight int           // requests sent on a link and not answered yet; 0 = 65536
	QueueWait   time.Duration // how long a full queue blocks a sender before ErrBackpressure; 0 = 100ms
	DialTimeout time.Duration // 0 = 2s
	BackoffMin  time.Duration // first redial delay after a failed dial; 0 = 50ms
	BackoffMax  time.Duration // 0 = 2s
	MaxFrame    int           // largest frame accepted, header included; 0 = 1 MiB
	Logger      *slog.Logger  // nil = slog.Default()
	Observer    Observer      // round trips and queue depth for /metrics; nil = none
}

func (o *LinkOptions) fill() {
	if o.QueueBytes <= 0 {
		o.QueueBytes = 4 << 20
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 65536
	}
	if o.QueueWait <= 0 {
		o.QueueWait = 100 * time.Millisecond
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 50 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 2 * time.Second
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

var (
	// ErrLinkDown means the link to the node is down (dial failed, or it broke before the
	// answer came). The push may or may not have been delivered there.
	ErrLinkDown = errors.New("links: link down")
	// ErrBackpressure means the link's queue stayed full for LinkOptions.QueueWait.
	ErrBackpressure = errors.New("links: link queue full")
	// ErrNodeGone means the node's link was refused or reset: no process listens at its
	// address, so it holds no live connection, whatever its directory entries say until they
	// age out. Pushes to it fail at once, without waiting on a dial, until a dial works again.
	// It wraps ErrLinkDown.
	ErrNodeGone = fmt.Errorf("%w: node gone (connection refused or reset)", ErrLinkDown)
)

// LinkStats counts link traffic since NewLinks.
type LinkStats struct {
	Links    int    // links currently open or dialling
	Sent     uint64 // pushes queued onto a link
	Answered uint64 // results received
	Failed   uint64 // pushes answered with an error by the link itself (down, backpressure)
	Dials    uint64 // successful dials
	DialErrs uint64
	Gone     uint64 // times a peer was found gone (dial refused, connection reset)
	Writes   uint64 // write system calls (Sent/Writes is the coalescing factor)
}

// Links holds one outbound link per peer node, made on first use.
//
// Lock contract: mu guards peers and closed; it is never held while taking link.mu.
type Links struct {
	self string
	dir  NodeAddrs
	o    LinkOptions

	sent, answered, failed, dials, dialErrs, writes, gone atomic.Uint64

	mu     sync.Mutex // guards peers, closed
	peers  map[string]*link
	closed bool
	wg     sync.WaitGroup // link goroutines
}

// NodeAddrs is what Links asks of the directory: a live node's link address, or an error
// wrapping cluster.ErrUnknownNode (its heartbeat is gone: the link is dropped) or
// cluster.ErrDirectoryDown. A cluster.Directory is one.
type NodeAddrs interface {
	NodeAddr(ctx context.Context, nodeID string) (string, error)
}

// NewLinks returns Links for node self that find peer addresses in dir.
func NewLinks(self string, dir NodeAddrs, o LinkOptions) *Links {
	o.fill()
	return &Links{self: self, dir: dir, o: o, peers: make(map[string]*link)}
}

// ForwardBatch sends ps in order on one link (one enqueue, written together) and waits for all
// results; ctx bounds the wait. An error (ErrLinkDown, ErrNodeGone, ErrBackpressure,
// cluster.ErrUnknownNode, cluster.ErrClosed or ctx's) means the results from the first failed one on are unknown. On error the results received before it are kept and every other one carries the error
// text in Err.
func (l *Links) ForwardBatch(ctx context.Context, nodeID string, ps []*Push) ([]Result, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	return l.forward(ctx, nodeID, ps)
}

func (l *Links) forward(ctx context.Context, nodeID string, ps []*Push) ([]Result, error) {
	k, err := l.link(nodeID)
	if err == nil {
		c := &call{res: make([]Result, len(ps)), done: make(chan struct{})}
		start := time.Now()
		if err = k.enqueue(ctx, ps, c); err == nil {
			select {
			case <-c.done:
				// After done the reader no longer touches c: c.res and c.got are ours.
				if c.err == nil {
					if obs := l.o.Observer; obs != nil {
						obs.LinkRoundTrip(time.Since(start))
					}
					return c.res, nil
				}
				l.failed.Add(uint64(len(ps) - c.got))
				return c.res, failRest(c.res, c.got, c.err)
			case <-ctx.Done():
				// The reader may still fill c.res: answer from a fresh slice.
				err = ctx.Err()
			}
		}
	}
	l.failed.Add(uint64(len(ps)))
	res := make([]Result, len(ps))
	return res, failRest(res, 0, err)
}

// failRest marks res[from:] as failed with err and returns err.
func failRest(res []Result, from int, err error) error {
	for i := from; i < len(res); i++ {
		res[i] = Result{Err: err.Error()}
	}
	return err
}

// link returns the link to nodeID, starting it if there is none.
func (l *Links) link(nodeID string) (*link, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, cluster.ErrClosed
	}
	k := l.peers[nodeID]
	if k == nil {
		k = newLink(l, nodeID)
		l.peers[nodeID] = k
		l.wg.Add(1)
		go k.run()
	}
	return k, nil
}

// drop forgets k (its goroutine ended); a later Forward starts a new link.
func (l *Links) drop(k *link) {
	l.mu.Lock()
	if l.peers[k.peer] == k {
		delete(l.peers, k.peer)
	}
	l.mu.Unlock()
}

// Close ends every link; pending requests fail with cluster.ErrClosed.
func (l *Links) Close() error {
	l.mu.Lock()
	l.closed = true
	ks := make([]*link, 0, len(l.peers))
	for _, k := range l.peers {
		ks = append(ks, k)
	}
	l.mu.Unlock()
	for _, k := range ks {
		k.close()
	}
	l.wg.Wait()
	return nil
}

// Stats returns the counters.
func (l *Links) Stats() LinkStats {
	l.mu.Lock()
	n := len(l.peers)
	l.mu.Unlock()
	return LinkStats{
		Links: n, Sent: l.sent.Load(), Answered: l.answered.Load(), Failed: l.failed.Load(),
		Dials: l.dials.Load(), DialErrs: l.dialErrs.Load(), Writes: l.writes.Load(), Gone: l.gone.Load(),
	}
}

func linkDown(cause error) error { return fmt.Errorf("%w: %w", ErrLinkDown, cause) }
