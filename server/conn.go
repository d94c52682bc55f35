package server

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// connMode is what a connection is doing now; it decides what its next bytes mean.
type connMode uint8

const (
	modeRequest connMode = iota // reading requests (keep-alive, pipelining)
	modeStream                  // holding a subscriber stream: client bytes are noise
	modePoll                    // a long-poll waiting for a message
	modeAsync                   // an admin answer is being made elsewhere; later requests wait
	modeClosing                 // answered with an error; closing once flushed
)

// timerKind says what a connection's one wheel timer is for.
type timerKind uint8

const (
	timerNone      timerKind = iota
	timerHeader              // a request must arrive whole before it fires (slowloris)
	timerIdle                // a keep-alive connection idle between requests
	timerHeartbeat           // a stream's next heartbeat
	timerPoll                // a long-poll's --poll-timeout
)

// connState is the server's part of a connection, one per engine slot, owned
// by the slot's loop. It holds no Go pointers, so a loop's table of them costs
// the collector nothing; what only some connections need (a parser while a
// request is in flight, a subscription, held bytes) sits in side slices
// reached by 1-based indexes (0 = none).
type connState struct {
	h              engine.Handle
	key            conntable.Key
	ip             [16]byte
	timer          conntable.TimerID
	lastSend       int64 // unix ms of the last frame written to a stream
	discarded      uint32
	parser         int32
	sub            int32
	held           int32
	listener       uint8
	mode           connMode
	timerKind      timerKind
	format         format
	minor          uint8 // HTTP minor version of the stream request: 0 means close-delimited
	sentContinue   bool
	closeAfterPoll bool  // bytes arrived during a long-poll: answer it, then close
	origin         uint8 // 1 + index of the request's Origin in --allowed-origins; 0 = none
}

// subscription is what a stream or long-poll subscribed to.
type subscription struct {
	user     string
	topics   []string
	members  []conntable.Membership
	replayed uint64 // highest message id written by replay: live copies up to it are skipped
	since    uint64 // long-poll cursor
}

// maxStreamNoise bounds what a client may send after its stream started;
// the stream request is the last request on its connection.
const maxStreamNoise = 4096

// maxHeldBytes bounds requests pipelined behind a long-poll or an admin
// answer being made on another loop.
const maxHeldBytes = 64 << 10
