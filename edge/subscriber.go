package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// SubState is one subscriber: a stream of frames (or a waiting long-poll)
// with its user and topics (memberships in the table), format, framing and
// cursor, named in the table, the conn keys and every delivery by a
// conntable.Sub. It is apart from the transport that carries it:
//
//   - an HTTP/1.x connection carries at most one subscriber, and its
//     connState embeds it (ConnSub: the Sub is the connection's own handle,
//     so an HTTP/1.1 subscriber costs no memory of its own);
//   - an HTTP/2 connection carries one per stream, each in a stream record
//     (streamSub) of the loop, which knows the connection and the stream id.
//
// 48 bytes, no Go pointers. Only the owning loop touches it.
type SubState struct {
	Timer  conntable.TimerID // a long-poll's timeout on the wheel
	Cursor uint64            // stream: highest id written by replay; poll: the since cursor
	Member [2]conntable.Membership
	At     Stamp // stream: when the last frame was written; request: when its timeout ends
	More   int32 // extra memberships, 1-based into Loop.More

	Mode           ConnMode
	TimerKind      timerKind
	Format         push.Format
	Minor          uint8 // HTTP/1.x: minor version of the stream request, 0 means close-delimited; see framing
	Origin         uint8 // 1 + index of the request's Origin in --allowed-origins; 0 = none
	Subscribed     bool  // key and memberships are in the table
	HasUser        bool  // member[0] is the user's membership
	CloseAfterPoll bool  // the long-poll request did not keep its connection
}

// Framing of a subscriber's frames, in subState.minor: HTTP/1.0 writes them
// bare (close-delimited), HTTP/1.1 as chunks, HTTP/2 as DATA frames of its
// stream.
const (
	FramingRaw     = 0
	FramingChunked = 1
	FramingH2      = 2
)

// StreamSub is a subscriber that shares its connection: one stream of an
// HTTP/2 connection. 64 bytes, no Go pointers, in fixed pages like
// connStates; gen names the record's current use (its Sub's generation).
type StreamSub struct {
	SubState
	Conn engine.Handle // the connection that carries it
	Id   uint32        // its HTTP/2 stream id
	gen  uint32        // bumped when the record is freed; never 0 while in use
}

const streamPageSize = 256

type streamPage [streamPageSize]StreamSub

// loopStreams are the stream records of a loop, their free list and the conn
// keys issued to them. Only the loop touches them, except keys, which any
// goroutine may read (lookupKey).
type loopStreams struct {
	streamPages []*streamPage
	freeStreams []int32
	streamKeys  conntable.Keys // the conn key issued to each stream record
}

// NewStream takes a stream record for stream id of connection conn and
// returns its Sub. The record starts as a connection does: in modeRequest,
// not subscribed.
func (ls *Loop) NewStream(conn engine.Handle, id uint32) (conntable.Sub, *StreamSub) {
	var i int
	if n := len(ls.freeStreams); n > 0 {
		i = int(ls.freeStreams[n-1])
		ls.freeStreams = ls.freeStreams[:n-1]
	} else {
		i = len(ls.streamPages) * streamPageSize
		ls.streamPages = append(ls.streamPages, new(streamPage))
		for j := streamPageSize - 1; j > 0; j-- {
			ls.freeStreams = append(ls.freeStreams, int32(i+j))
		}
	}
	st := &ls.streamPages[i/streamPageSize][i%streamPageSize]
	gen := st.gen + 1
	if gen == 0 {
		gen = 1
	}
	*st = StreamSub{Conn: conn, Id: id, gen: gen}
	return conntable.StreamSub(ls.Index, i, gen), st
}

// Stream returns sub's record while sub still names it.
func (ls *loopStreams) Stream(sub conntable.Sub) *StreamSub {
	i := sub.Index()
	if !sub.IsStream() || i/streamPageSize >= len(ls.streamPages) {
		return nil
	}
	st := &ls.streamPages[i/streamPageSize][i%streamPageSize]
	if st.gen != sub.Gen() || st.Conn == 0 {
		return nil
	}
	return st
}

// EachStream calls fn for every stream record in use on the loop.
func (ls *loopStreams) EachStream(loop int, fn func(sub conntable.Sub, st *StreamSub)) {
	for p, page := range ls.streamPages {
		for i := range page {
			if st := &page[i]; st.Conn != 0 {
				fn(conntable.StreamSub(loop, p*streamPageSize+i, st.gen), st)
			}
		}
	}
}

// FreeStream gives a stream record back; sub no longer names it. The
// caller has unsubscribed it.
func (ls *loopStreams) FreeStream(sub conntable.Sub) {
	st := ls.Stream(sub)
	if st == nil {
		return
	}
	gen := st.gen
	*st = StreamSub{gen: gen + 1}
	ls.freeStreams = append(ls.freeStreams, int32(sub.Index()))
}

// SubscriberOf returns the live subscriber sub names on this loop and the
// connection that carries it; nil when it is gone.
func (ls *Loop) SubscriberOf(sub conntable.Sub) (*SubState, engine.Handle) {
	if sub.IsStream() {
		if st := ls.Stream(sub); st != nil {
			return &st.SubState, st.Conn
		}
		return nil, 0
	}
	h := engine.Handle(sub)
	if c := ls.Live(h); c != nil {
		return &c.SubState, h
	}
	return nil, 0
}

// KeysOf returns the conn-key index and the index in it of sub's key.
func (ls *Loop) KeysOf(sub conntable.Sub) (*conntable.Keys, int) {
	if sub.IsStream() {
		return &ls.streamKeys, sub.Index()
	}
	return &ls.Keys, sub.Index()
}

// KeyOf returns sub's conn key.
func (ls *Loop) KeyOf(sub conntable.Sub) ConnKey {
	k, i := ls.KeysOf(sub)
	return ConnKey{sub, k.Random(i, sub)}
}

// writeTo writes b, a frame with sub's framing already applied for HTTP/1.x
// (raw or chunked), to the connection that carries sub; by reference when
// ref (b is a shared message frame that outlives the loop's flush).
// HTTP/2 subscribers get b (the raw frame) as DATA on their stream.
func (ls *Loop) writeTo(l *engine.Loop, sub conntable.Sub, s *SubState, conn engine.Handle, b []byte, ref bool) {
	switch {
	case s.Minor == FramingH2:
		ls.s.Glue.H2Data(l, sub, conn, b)
	case ref:
		l.WriteRef(conn, b)
	default:
		l.Write(conn, b)
	}
}

// pick returns the frame of the subscriber's framing: the bare frame for
// HTTP/1.0 and HTTP/2, the chunk for HTTP/1.1.
func (s *SubState) pick(raw, chunked []byte) []byte {
	if s.Minor == FramingChunked {
		return chunked
	}
	return raw
}
