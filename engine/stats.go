package engine

import "sync/atomic"

// Stats is a snapshot of the engine's counters, summed over its loops.
type Stats struct {
	Open               int64 // connections open now (accepted by OnOpen and not yet closed)
	Accepted           int64 // connections accepted since New (including those OnOpen refused)
	Closed             int64 // connections closed since New (OnClose calls)
	SlowConsumers      int64 // closes with ErrSlowConsumer
	InboundOverflows   int64 // closes with ErrInboundLimit
	AcceptErrors       int64 // accept4 failures other than EAGAIN (EMFILE, ENFILE, ENOBUFS, ...)
	TLSHandshakes      int64 // TLS handshakes completed
	TLSHandshakeErrors int64 // TLS conns closed in their handshake: not TLS, refused, failed
}

// loopStats are one loop's counters. Only the loop writes them; Engine.Stats reads them from
// any goroutine. The padding keeps loops' counters on separate cache lines.
type loopStats struct {
	open               atomic.Int64
	accepted           atomic.Int64
	closed             atomic.Int64
	slowConsumers      atomic.Int64
	inboundOverflows   atomic.Int64
	acceptErrors       atomic.Int64
	tlsHandshakes      atomic.Int64
	tlsHandshakeErrors atomic.Int64
}

func (s *loopStats) addTo(t *Stats) {
	t.Open += s.open.Load()
	t.Accepted += s.accepted.Load()
	t.Closed += s.closed.Load()
	t.SlowConsumers += s.slowConsumers.Load()
	t.InboundOverflows += s.inboundOverflows.Load()
	t.AcceptErrors += s.acceptErrors.Load()
	t.TLSHandshakes += s.tlsHandshakes.Load()
	t.TLSHandshakeErrors += s.tlsHandshakeErrors.Load()
}
