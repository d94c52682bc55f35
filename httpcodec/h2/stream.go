package h2

// Stream flags.
const (
	sfRemoteEnded uint8 = 1 << iota // the peer's END_STREAM arrived
	sfHeadersSent                   // our response HEADERS went out
	sfEndQueued                     // END_STREAM waits behind queued DATA
)

// stream is one open stream: 48 bytes, no buffer unless DATA waits for
// window. Streams live in Conn.streams, a slice searched linearly: it holds
// at most Config.MaxStreams entries and usually a handful, so it beats a map
// in both time and memory. Closed streams leave no trace: every id below
// Conn.lastID that is not in the slice is closed (RFC 9113 §5.1.1).
type stream struct {
	id    uint32
	send  int32 // send window; negative after SETTINGS shrink it
	recv  int32 // body bytes the peer may still send (never replenished)
	clen  int32 // declared Content-Length still to come; -1 when none
	flags uint8
	q     []byte // DATA payload waiting for window, in order
}

// find returns the index of stream id, or -1. The search starts after the
// last stream found: a broadcast writes to a connection's streams in the
// order they opened, which is mostly slice order, so each lookup then costs
// one comparison instead of half the slice.
func (c *Conn) find(id uint32) int {
	n := len(c.streams)
	start := int(c.hint)
	if start >= n {
		start = 0
	}
	for i := start; i < n; i++ {
		if c.streams[i].id == id {
			c.hint = uint16(i + 1)
			return i
		}
	}
	for i := 0; i < start; i++ {
		if c.streams[i].id == id {
			c.hint = uint16(i + 1)
			return i
		}
	}
	return -1
}

// remove forgets stream i and its queue. Order does not matter (ids say
// it), so the last one moves into the hole.
func (c *Conn) remove(i int) {
	c.queued -= len(c.streams[i].q)
	last := len(c.streams) - 1
	c.streams[i] = c.streams[last]
	c.streams[last] = stream{}
	c.streams = c.streams[:last]
	if len(c.streams) == 0 && cap(c.streams) > 4 {
		c.streams = nil // a burst of streams does not pin its slice
	}
}

// resetStream sends RST_STREAM for stream i, forgets it and reports it.
func (c *Conn) resetStream(i int, code ErrCode) {
	id := c.streams[i].id
	c.out = appendRSTStream(c.out, id, code)
	c.remove(i)
	c.ev = Event{Kind: EventReset, Stream: id, Code: code}
}

// NumStreams returns the number of open streams.
func (c *Conn) NumStreams() int { return len(c.streams) }

// Queued returns the DATA bytes of stream id waiting for flow-control
// window: what the loop weighs against its write-buffer limit to cut a slow
// consumer (Reset) without holding the connection's other streams.
func (c *Conn) Queued(id uint32) int {
	if i := c.find(id); i >= 0 {
		return len(c.streams[i].q)
	}
	return 0
}

// QueuedTotal returns the DATA bytes of all streams waiting for window, in
// O(1): what the loop weighs against its write-buffer limit for the
// connection as a whole, on every write. A client that shuts the connection
// window and keeps its stream windows open makes every stream queue, each
// under the limit on its own.
func (c *Conn) QueuedTotal() int { return c.queued }
