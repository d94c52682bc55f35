package engine

import "github.com/pushwire/pushwire/engine/slab"

// slot is one connection's loop-owned state, an entry of the loop's slab.Table: pointer-free,
// naming its buffers (connbuf) and its TLS state (tlsconn) by int32 index. The flags below
// are what the loop is doing with it; the table owns only Open.
type slot = slab.Slot

const (
	flagOpen       = slab.Open         // slot holds a live connection (the table's own bit)
	flagDirty      = slab.Open << iota // on loop.dirty, to be flushed at the end of the iteration
	flagBlocked                        // the kernel send buffer was full: wait for EPOLLOUT
	flagRegIn                          // EPOLLIN|EPOLLRDHUP is in the epoll interest set
	flagRegOut                         // EPOLLOUT is in the epoll interest set
	flagReadClosed                     // no more reading: peer sent FIN or CloseAfterFlush was called
	flagPeerEOF                        // the peer sent FIN: close with io.EOF once output is flushed
	flagCloseAfter                     // CloseAfterFlush: close with a nil error once output is flushed
	flagSlow                           // went over WriteBufferLimit: closed with ErrSlowConsumer at flush
	flagLinger                         // CloseAfterFlush done writing: write side shut, draining input until EOF
	flagPaused                         // pending output went over the high-water mark: not read until it drains (backpressure.go)
	flagRegHup                         // only EPOLLRDHUP is in the epoll interest set (reading paused)
	flagPeerHup                        // the peer's FIN was seen while reading was paused: stop watching for it
	flagResume                         // on loop.resumes: OnData is to run again with the carry
	flagBurst                          // its output had all gone out when this iteration first wrote to it: it may take a burst (backpressure.go)
)
