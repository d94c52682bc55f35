package conntable

// Sub names one subscriber: a stream of frames with its user, topics, format
// and cursor. The table (Join, AppendMembers), the conn keys (Keys) and
// everything that routes a push see subscribers, not connections: an HTTP/1.x
// connection carries at most one subscriber, an HTTP/2 connection one per
// stream, and the router need not know which.
//
// A Sub has the bit layout of an engine handle (bits 0..23 an index, 24..31
// the loop, 32..63 a generation, never 0), so the loop that owns a subscriber
// is read from it the same way for both kinds:
//
//   - index below StreamBit: the subscriber is its connection's only one, and
//     the Sub is the connection's own handle (ConnSub). Naming it costs
//     nothing: an HTTP/1.1 subscriber needs no record of its own.
//   - index with StreamBit set: the subscriber is one of several on its
//     connection (an HTTP/2 stream); the rest of the index names a stream
//     record of the loop, which knows the connection and the stream id, and
//     the generation is that record's, bumped when it is freed.
//
// Connections therefore use slots below StreamBit: 8,388,608 per loop.
type Sub uint64

const (
	subIndexBits = 24
	subLoopBits  = 8

	// StreamBit marks the index of a subscriber that shares its connection.
	StreamBit = 1 << (subIndexBits - 1)
	// MaxConnSlots is the number of connection slots per loop whose handle
	// can name a subscriber (ConnSub).
	MaxConnSlots = StreamBit
	// MaxStreamSubs is the number of stream records per loop a Sub can name.
	MaxStreamSubs = StreamBit
)

// ConnSub is the subscriber that connection h carries alone. h's slot must be
// below MaxConnSlots.
func ConnSub(h Handle) Sub { return Sub(h) }

// StreamSub names stream record index (below MaxStreamSubs) of loop, at
// generation gen (never 0).
func StreamSub(loop, index int, gen uint32) Sub {
	return Sub(uint64(index|StreamBit) | uint64(loop)<<subIndexBits | uint64(gen)<<32)
}

// Loop is the index of the loop that owns s.
func (s Sub) Loop() int { return int(s>>subIndexBits) & (1<<subLoopBits - 1) }

// IsStream reports whether s shares its connection (a stream record names it)
// rather than being the connection's only subscriber.
func (s Sub) IsStream() bool { return s&StreamBit != 0 }

// Index is s's connection slot, or for a stream its record index.
func (s Sub) Index() int { return int(s) & (StreamBit - 1) }

// Gen is s's generation: the connection's, or the stream record's.
func (s Sub) Gen() uint32 { return uint32(s >> 32) }

// Conn is the handle of the connection s is the only subscriber of; ok is
// false for a stream, whose connection its record knows.
func (s Sub) Conn() (h Handle, ok bool) {
	if s.IsStream() {
		return 0, false
	}
	return Handle(s), true
}
