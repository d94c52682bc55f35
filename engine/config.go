package engine

import (
	"log/slog"
	"runtime"
	"time"
)

// Config sets up an Engine. The zero value of every field selects its documented default.
type Config struct {
	Loops            int           // event loops; 0 = runtime.GOMAXPROCS(0)
	ReadBufferBytes  int           // one read buffer per loop; 0 = 64 KiB
	MaxInboundBytes  int           // unconsumed inbound bytes carried per conn; over → close with ErrInboundLimit; 0 = 128 KiB
	WriteBufferLimit int           // pending outbound bytes per conn; over → close with ErrSlowConsumer (counted); 0 = 256 KiB; over half of it the conn is not read until under a quarter (see Loop.Congested)
	SendBufferBytes  int           // SO_SNDBUF on accepted sockets; 0 = 32 KiB; <0 = kernel default
	TickInterval     time.Duration // period of Handler.OnTick on each loop; 0 = 100ms
	UserTimeout      time.Duration // TCP_USER_TIMEOUT on accepted sockets: data unacknowledged this long aborts the conn (a peer gone without FIN or RST); 0 = the kernel's (minutes)
	Logger           *slog.Logger  // nil = slog.Default()
	// OnTLSHandshake, when set, is called on the loop as each TLS handshake completes, with
	// the time from the accept to the handshake's end (the loop's clock: as fine as its
	// wake-ups). It must not block: /metrics observes it into a histogram.
	OnTLSHandshake func(took time.Duration)
}

const (
	defaultReadBufferBytes  = 64 << 10
	defaultMaxInboundBytes  = 128 << 10
	defaultWriteBufferLimit = 256 << 10
	defaultSendBufferBytes  = 32 << 10
	defaultTickInterval     = 100 * time.Millisecond

	maxPendingBytes = 1 << 30 // slot.Pending is an int32
)

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Loops > maxLoops {
		c.Loops = maxLoops
	}
	if c.ReadBufferBytes <= 0 {
		c.ReadBufferBytes = defaultReadBufferBytes
	}
	if c.MaxInboundBytes <= 0 {
		c.MaxInboundBytes = defaultMaxInboundBytes
	}
	if c.WriteBufferLimit <= 0 {
		c.WriteBufferLimit = defaultWriteBufferLimit
	}
	c.WriteBufferLimit = min(c.WriteBufferLimit, maxPendingBytes)
	c.MaxInboundBytes = min(c.MaxInboundBytes, maxPendingBytes)
	if c.SendBufferBytes == 0 {
		c.SendBufferBytes = defaultSendBufferBytes
	}
	if c.TickInterval <= 0 {
		c.TickInterval = defaultTickInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
