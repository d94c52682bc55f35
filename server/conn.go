package server

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// connMode is what a connection is doing now; it decides what its next bytes mean.
type connMode uint8

const (
	modeRequest connMode = iota // reading requests (keep-alive, pipelining)
	modeStream                  // holding a subscriber stream: client bytes are noise
	modePoll                    // a long-poll waiting for a message
	modeAsync                   // an answer is being made elsewhere; later requests wait
	modeClosing                 // answered with an error; closing once flushed
)

// timerKind says what a connection's one wheel timer is for.
type timerKind uint8

const (
	timerNone   timerKind = iota
	timerHeader           // a request must arrive whole before c.at (slowloris); swept
	timerIdle             // a keep-alive connection idle between requests until c.at; swept
	timerPoll             // a long-poll's --poll-timeout
)

// connState is the server's part of a connection, one per engine slot, owned
// by the slot's loop: 64 bytes and no Go pointers, so a million of them cost
// the collector nothing. A subscriber keeps its first two memberships inline
// (a user and a topic, the common case) and the names only in the table;
// what few connections need (a parser while a request is in flight, more
// memberships) sits in side slices reached by 1-based indexes.
type connState struct {
	h      engine.Handle
	timer  conntable.TimerID
	cursor uint64 // stream: highest id written by replay; poll: the since cursor
	member [2]conntable.Membership
	at     stamp // stream: when the last frame was written; request: when its timeout ends
	more   int32 // extra memberships, 1-based into loopState.more
	parser int32

	discarded      uint16
	listener       uint8
	mode           connMode
	timerKind      timerKind
	format         push.Format
	minor          uint8 // HTTP minor version of the stream request: 0 means close-delimited
	origin         uint8 // 1 + index of the request's Origin in --allowed-origins; 0 = none
	subscribed     bool  // key and memberships are in the table
	hasUser        bool  // member[0] is the user's membership
	sentContinue   bool
	closeAfterPoll bool // the long-poll request did not keep its connection
}

// connPageSize is how many connStates are allocated at once: pages never
// move, so growth copies nothing and wastes at most one page.
const connPageSize = 256

type connPage [connPageSize]connState

// maxStreamNoise bounds what a client may send after its stream started;
// the stream request is the last request on its connection.
const maxStreamNoise = 4096

// stamp is a time as tenths of a second since the server started: 4 bytes
// where a time.Time takes 24, fine enough for heartbeats, good for 13 years.
type stamp uint32

const stampUnit = 100 * time.Millisecond

func (s *Server) stampOf(t time.Time) stamp { return stamp(t.Sub(s.started) / stampUnit) }
func (s *Server) timeOf(st stamp) time.Time { return s.started.Add(time.Duration(st) * stampUnit) }
