package links

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// call is one ForwardBatch or Query waiting for its answers.
type call struct {
	res  []Result
	got  int   // results received; link.mu guards it until done is closed
	err  error // set (under link.mu) before done is closed when the link failed the call
	done chan struct{}
	// A presence query (query.go) in place of pushes: res has one slot, and the answer
	// frame fills answer.
	query  *Query
	answer QueryAnswer
}

// pending is a call in a link's answer queue: its requests carry corr ids base, base+1, ...
type pending struct {
	c    *call
	base uint64
}

type linkState uint8

const (
	stateDialing linkState = iota // requests queue and go out once connected
	stateUp
	stateDown // waiting out a backoff: requests fail at once with the cause
)

// link is the outbound connection to one peer. Goroutines: run (dials, then is the writer) and
// one reader per connection. The writer takes the whole queued byte buffer at once, so every
// push queued while a write is in progress leaves in the next single write.
//
// The peer answers requests in order (it runs its handler sequentially per link), so answers
// are matched against the head of fifo and their corr ids checked, not looked up in a map.
type link struct {
	ls   *Links
	peer string
	wake chan struct{} // capacity 1: wakes the writer; wake-ups merge
	quit chan struct{} // closed by close
	once sync.Once

	mu       sync.Mutex // guards everything below; never held across I/O
	state    linkState
	cause    error     // why stateDown: what senders get (wraps ErrLinkDown or cluster.ErrUnknownNode)
	gone     bool      // the last dial was refused or the connection reset: fail at once with cause
	gen      uint64    // connection generation: a reader of an older one must stop
	out      []byte    // encoded frames not yet taken by the writer
	fifo     []pending // fifo[head:] await answers, oldest first
	head     int
	inflight int // requests in fifo[head:]
	nextCorr uint64
	space    chan struct{} // closed when queue space frees; nil when nobody waits
	closed   bool
}

func newLink(ls *Links, peer string) *link {
	return &link{ls: ls, peer: peer, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

// enqueue encodes ps (or c.query) onto the queue and registers c for their answers. A full
// queue (bytes or requests in flight) blocks up to QueueWait, then fails with ErrBackpressure.
func (k *link) enqueue(ctx context.Context, ps []*Push, c *call) error {
	size, n := 0, len(ps)
	for _, p := range ps {
		size += pushSize(p)
	}
	if c.query != nil {
		size, n = querySize(c.query), 1
	}
	o := &k.ls.o
	var timer *time.Timer
	k.mu.Lock()
	for {
		if k.closed {
			k.mu.Unlock()
			return cluster.ErrClosed
		}
		if k.state == stateDown || k.gone {
			err := k.cause
			k.mu.Unlock()
			return err
		}
		// An empty queue always takes the request, however big, so nothing can starve.
		if (len(k.out) == 0 || len(k.out)+size <= o.QueueBytes) &&
			(k.inflight == 0 || k.inflight+n <= o.MaxInFlight) {
			break
		}
		if k.space == nil {
			k.space = make(chan struct{})
		}
		space := k.space
		k.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(o.QueueWait)
			defer timer.Stop()
		}
		select {
		case <-space:
		case <-timer.C:
			if err := ctx.Err(); err != nil { // both fired while we were descheduled
				return err
			}
			return ErrBackpressure
		case <-ctx.Done():
			return ctx.Err()
		case <-k.quit:
			return cluster.ErrClosed
		}
		k.mu.Lock()
	}
	wasEmpty := len(k.out) == 0
	base := k.nextCorr
	for _, p := range ps {
		k.out = appendPush(k.out, k.nextCorr, p)
		k.nextCorr++
	}
	if c.query != nil {
		k.out = appendQuery(k.out, k.nextCorr, c.query)
		k.nextCorr++
	}
	k.fifo = append(k.fifo, pending{c: c, base: base})
	k.inflight += n
	inflight := k.inflight
	k.mu.Unlock()
	k.ls.sent.Add(uint64(n))
	if obs := o.Observer; obs != nil {
		obs.LinkQueued(inflight)
	}
	if wasEmpty {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// freeSpace wakes senders blocked on a full queue. k.mu must be held.
func (k *link) freeSpace() {
	if k.space != nil {
		close(k.space)
		k.space = nil
	}
}

// fail ends every queued and in-flight request with err and moves to state next. Requests of
// the failed connection can never be answered later: gen changes, so its reader stops.
func (k *link) fail(next linkState, err error) {
	k.mu.Lock()
	for _, pe := range k.fifo[k.head:] {
		pe.c.err = err
		close(pe.c.done)
	}
	clear(k.fifo)
	k.fifo, k.head, k.inflight = k.fifo[:0], 0, 0
	k.out = k.out[:0]
	k.gen++
	if !k.closed {
		k.state, k.cause = next, err
	}
	k.freeSpace()
	k.mu.Unlock()
}

func (k *link) close() {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.once.Do(func() { close(k.quit) })
}

func (k *link) quitting() bool {
	select {
	case <-k.quit:
		return true
	default:
		return false
	}
}

// run dials, serves the connection until it breaks, and redials: at once after a break, with
// jittered exponential backoff after failed dials. It ends on close, or when the peer is no
// longer a live node (the link is then forgotten; a later Forward makes a new one).
func (k *link) run() {
	defer k.ls.wg.Done()
	defer k.ls.drop(k)
	o := &k.ls.o
	backoff := o.BackoffMin
	for {
		conn, err := k.dial()
		if err != nil {
			k.ls.dialErrs.Add(1)
			if k.quitting() {
				k.fail(stateDown, cluster.ErrClosed)
				return
			}
			if errors.Is(err, cluster.ErrUnknownNode) {
				k.fail(stateDown, err)
				return
			}
			k.fail(stateDown, k.downCause(err))
			d := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, o.BackoffMax)
			select {
			case <-time.After(d):
			case <-k.quit:
				k.fail(stateDown, cluster.ErrClosed)
				return
			}
			k.mu.Lock()
			k.state = stateDialing
			k.mu.Unlock()
			continue
		}
		backoff = o.BackoffMin
		k.ls.dials.Add(1)
		err = k.serve(conn)
		if k.quitting() {
			k.fail(stateDown, cluster.ErrClosed)
			return
		}
		k.ls.o.Logger.Warn("links: link broke; redialling", "peer", k.peer, "err", err)
		k.fail(stateDialing, k.downCause(err))
	}
}

// downCause is what senders get while the link is down because of err. A refused dial or
// a reset connection means no process is there (a killed node's kernel answers for it):
// the link is marked gone, and senders fail at once, without waiting on redials, until a
// dial works again. Any other failure (a timeout: a partition, a hung peer) says nothing
// of the process, so senders keep waiting on dials as before.
func (k *link) downCause(err error) error {
	if !refusedOrReset(err) {
		return linkDown(err)
	}
	k.mu.Lock()
	was := k.gone
	k.gone = true
	k.mu.Unlock()
	if !was {
		k.ls.gone.Add(1)
		k.ls.o.Logger.Warn("links: peer gone (refused or reset); pushes skip it until a dial works", "peer", k.peer, "err", err)
	}
	return fmt.Errorf("%w: %w", ErrNodeGone, err)
}

func refusedOrReset(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (k *link) dial() (net.Conn, error) {
	o := &k.ls.o
	ctx, cancel := context.WithTimeout(context.Background(), o.DialTimeout)
	defer cancel()
	addr, err := k.ls.dir.NodeAddr(ctx, k.peer)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(o.DialTimeout))
	if _, err := conn.Write(appendHello(nil, k.ls.self)); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// serve is the writer of one connection; it returns why the connection ended.
func (k *link) serve(conn net.Conn) error {
	dead := make(chan error, 1)
	k.mu.Lock()
	k.state, k.gone = stateUp, false // the dial worked: the node is back
	gen := k.gen
	k.mu.Unlock()
	go k.read(conn, gen, dead)

	var buf []byte
	for {
		k.mu.Lock()
		buf, k.out = k.out, buf[:0]
		if len(buf) > 0 {
			k.freeSpace()
		}
		k.mu.Unlock()
		if len(buf) > 0 {
			if _, err := conn.Write(buf); err != nil {
				conn.Close()
				<-dead
				return err
			}
			k.ls.writes.Add(1)
			if cap(buf) > 2*k.ls.o.QueueBytes {
				buf = nil // drop a buffer a huge batch grew
			}
			continue
		}
		select {
		case <-k.wake:
		case err := <-dead:
			conn.Close()
			return err
		case <-k.quit:
			conn.Close()
			<-dead
			return cluster.ErrClosed
		}
	}
}

// errStaleReader ends a reader whose connection was already failed.
var errStaleReader = errors.New("links: stale link reader")

// read matches answers to requests. It handles every wholly buffered answer under one lock.
func (k *link) read(conn net.Conn, gen uint64, dead chan<- error) {
	fr := newFrameReader(conn, 64<<10, k.ls.o.MaxFrame)
	for {
		if err := fr.fill(); err != nil {
			dead <- err
			return
		}
		n, err := k.answer(fr, gen)
		k.ls.answered.Add(uint64(n))
		if err != nil {
			conn.Close()
			dead <- err
			return
		}
	}
}

var errUnexpectedAnswer = errors.New("links: link answer does not match a request")

func (k *link) answer(fr *frameReader, gen uint64) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen != gen {
		return 0, errStaleReader
	}
	n := 0
	for {
		typ, body, ok, err := fr.next()
		if err != nil || !ok {
			k.compact()
			return n, err
		}
		if k.head == len(k.fifo) {
			return n, errUnexpectedAnswer
		}
		pe := &k.fifo[k.head]
		c := pe.c
		var corr uint64
		var r Result
		switch {
		case typ == typeResult && c.query == nil:
			corr, r, err = decodeResult(body)
		case typ == typeQueryAnswer && c.query != nil:
			corr, c.answer, err = decodeQueryAnswer(body)
		default:
			return n, errUnexpectedAnswer
		}
		if err != nil {
			return n, err
		}
		if corr != pe.base+uint64(c.got) {
			return n, errUnexpectedAnswer
		}
		c.res[c.got] = r
		c.got++
		n++
		if c.got == len(c.res) {
			close(c.done)
			k.inflight -= len(c.res)
			k.fifo[k.head] = pending{}
			k.head++
			k.freeSpace()
		}
	}
}

// compact reclaims answered fifo entries. k.mu must be held.
func (k *link) compact() {
	switch {
	case k.head == len(k.fifo):
		k.fifo, k.head = k.fifo[:0], 0
	case k.head > 1024 && k.head > len(k.fifo)/2:
		n := copy(k.fifo, k.fifo[k.head:])
		clear(k.fifo[n:])
		k.fifo, k.head = k.fifo[:n], 0
	}
}
