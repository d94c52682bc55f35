package hooks

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pushwire/pushwire/httpcodec"
)

// Stats counts a Sender's events since New. Every event offered to Connect or Disconnect is,
// at any moment, exactly one of Sent, Dropped or Queued: Stats reads all three under one lock.
type Stats struct {
	Sent    uint64 // events the hook accepted (2xx)
	Dropped uint64 // events dropped because the queue was full (or Close gave up on them)
	Failed  uint64 // POST attempts that failed (non-2xx, timeout, unreachable); each is retried
	Queued  int    // events waiting now
}

// Sender queues lifecycle events and POSTs them to the hook from one goroutine (run.go).
//
// Lock contract: mu is the package's only lock. Callers hold it to append one encoded line;
// the sender goroutine holds it to swap buffers and to count outcomes; Stats and Close hold it
// to read or set a few fields. It is never held across I/O, a channel operation or a sleep.
type Sender struct {
	o   Options
	url hookURL
	log *slog.Logger

	mu       sync.Mutex // guards the fields down to the blank line
	in       []byte     // encoded lines the sender has not taken yet
	inN      int        // lines in in
	inSince  time.Time  // at of in's first line
	queued   int        // lines held: in's plus the sender's (its batch in flight included)
	closed   bool       // Close was called: events are dropped
	node     string     // node of the last event, and node encoded as a JSON string
	nodeJSON []byte
	stats    Stats // Sent, Dropped, Failed; Queued is filled from queued

	wake      chan struct{} // capacity 1: in got its first line, or queued reached MaxBatch
	closing   chan struct{} // closed by Close: send what is held without waiting, then stop
	closeOnce sync.Once
	abort     context.Context    // ended when Close's ctx ends: cuts dials, connections, sleeps
	giveUp    context.CancelFunc // ends abort
	done      chan struct{}      // closed when run returns

	q    sendQueue // the sender goroutine's own; no lock (run.go)
	post poster    // the sender goroutine's own; no lock (post.go)
}

// New validates o and starts the sender goroutine. An error is about o.URL and reads after
// "--hook-url: ".
func New(o Options) (*Sender, error) {
	u, err := parseURL(o.URL)
	if err != nil {
		return nil, err
	}
	o.fill()
	abort, giveUp := context.WithCancel(context.Background())
	s := &Sender{
		o:       o,
		url:     u,
		log:     o.Logger,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		abort:   abort,
		giveUp:  giveUp,
		done:    make(chan struct{}),
	}
	s.q.timer = time.NewTimer(time.Hour)
	s.q.timer.Stop()
	s.post.init(o.URL, u, o.Timeout, abort)
	go s.run()
	return s, nil
}

// Connect queues a "connect" event for conn (the conn key), user (empty: none) and node, at
// time at, or drops it (counted) when the queue is full or the Sender closed. It never waits
// for the network or the sender goroutine and, once its buffer has grown to the traffic, does
// not allocate. conn and user are copied before it returns.
//
// at is also where the event's wait for a POST starts: it goes out within Interval of the
// earliest at queued (sooner if at lies in the past).
func (s *Sender) Connect(conn, user []byte, node string, at time.Time) {
	s.add(typeConnect, conn, user, node, at)
}

// Disconnect is Connect for a "disconnect" event.
func (s *Sender) Disconnect(conn, user []byte, node string, at time.Time) {
	s.add(typeDisconnect, conn, user, node, at)
}

func (s *Sender) add(typ string, conn, user []byte, node string, at time.Time) {
	s.mu.Lock()
	if s.closed || s.queued >= s.o.Queue {
		s.stats.Dropped++
		s.mu.Unlock()
		return
	}
	if node != s.node || s.nodeJSON == nil {
		// The node id is the same for every event of a process: encode it once. The
		// conversion copies, but only when node changes.
		s.nodeJSON = httpcodec.AppendJSONString(s.nodeJSON[:0], []byte(node))
		s.node = node
	}
	s.in = appendEvent(s.in, typ, conn, user, s.nodeJSON, at)
	s.inN++
	s.queued++
	if s.inN == 1 {
		s.inSince = at
	}
	// The sender needs waking when it may be idle (first line) or waiting out Interval
	// while a full batch is now queued. Other wake-ups would only cost it a loop.
	wake := s.inN == 1 || s.queued == s.o.MaxBatch
	s.mu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Stats returns the counters; safe from any goroutine.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.Queued = s.queued
	s.mu.Unlock()
	return st
}

// Close stops taking events (later ones count as Dropped), sends what is queued without waiting
// for Interval (failures still back off), and returns nil once everything was sent. When ctx
// ends first it cuts the POST in flight, counts every event still held as Dropped (those of the
// cut POST may have reached the hook all the same), and returns ctx.Err(). Either way the
// sender goroutine has stopped when Close returns. Close may be called more than once.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.closeOnce.Do(func() { close(s.closing) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	select {
	case <-s.done: // finished as ctx ended: nothing was given up
		return nil
	default:
	}
	s.giveUp()
	<-s.done
	return ctx.Err()
}
