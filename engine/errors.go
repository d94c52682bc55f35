package engine

import "errors"

// ErrSlowConsumer is the close reason of a connection whose pending outbound bytes went over
// Config.WriteBufferLimit: its peer reads slower than it is written to. The close is counted in
// Stats.SlowConsumers.
var ErrSlowConsumer = errors.New("engine: slow consumer: pending output over the write buffer limit")

// ErrInboundLimit is the close reason of a connection whose unconsumed inbound bytes (what
// Handler.OnData left unconsumed) went over Config.MaxInboundBytes. The close is counted in
// Stats.InboundOverflows.
var ErrInboundLimit = errors.New("engine: unconsumed inbound bytes over the limit")

// ErrEngineStopped is the close reason given to every connection still open when Engine.Stop
// runs, and the error Start returns once the engine has been stopped.
var ErrEngineStopped = errors.New("engine: stopped")

// ErrStarted is returned by Listen and Start when the engine has already been started.
var ErrStarted = errors.New("engine: already started")
