package edge

import (
	"time"

	"github.com/pushwire/pushwire/engine"
)

// ConnMode is what a connection is doing now; it decides what its next bytes mean.
type ConnMode uint8

const (
	ModeRequest ConnMode = iota // reading requests (keep-alive, pipelining)
	ModeStream                  // holding a subscriber stream: client bytes are noise
	ModePoll                    // a long-poll waiting for a message
	ModeAsync                   // an answer is being made elsewhere; later requests wait
	ModeClosing                 // answered with an error; closing once flushed
	ModeH2                      // an HTTP/2 connection: its subscribers are stream records
)

// timerKind says what a connection's one wheel timer is for.
type timerKind uint8

const (
	TimerNone   timerKind = iota
	TimerHeader           // a request must arrive whole before c.at (slowloris); swept
	TimerIdle             // a keep-alive connection idle between requests until c.at; swept
	TimerPoll             // a long-poll's --poll-timeout
)

// ConnState is the edge's part of a connection, one per engine slot, owned
// by the slot's loop: 64 bytes and no Go pointers, so a million of them cost
// the collector nothing. It embeds the one subscriber an HTTP/1.x
// connection may carry (subscriber.go); until the connection subscribes,
// the same fields time its requests (at, timerKind) and say what it does
// (mode). An HTTP/2 connection (modeH2) carries its subscribers in stream
// records instead. A subscriber keeps its first two memberships inline
// (a user and a topic, the common case) and the names only in the table;
// what few connections need (a parser while a request is in flight, more
// memberships, an HTTP/2 codec) sits in side slices reached by 1-based
// indexes.
type ConnState struct {
	H engine.Handle
	SubState
	Parser int32 // 1-based into Loop.parsers; in ModeH2 into the glue's HTTP/2 codecs (h2edge/conn.go)

	discarded    uint16
	Listener     uint8
	sentContinue bool
}

// connPageSize is how many connStates are allocated at once: pages never
// move, so growth copies nothing and wastes at most one page.
const connPageSize = 256

type connPage [connPageSize]ConnState

// maxStreamNoise bounds what a client may send after its stream started;
// the stream request is the last request on its connection.
const maxStreamNoise = 4096

// Stamp is a time as tenths of a second since the server started: 4 bytes
// where a time.Time takes 24, fine enough for heartbeats, good for 13 years.
type Stamp uint32

const StampUnit = 100 * time.Millisecond

func (s *Node) StampOf(t time.Time) Stamp { return Stamp(t.Sub(s.Started) / StampUnit) }
func (s *Node) TimeOf(st Stamp) time.Time { return s.Started.Add(time.Duration(st) * StampUnit) }
