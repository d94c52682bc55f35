package h2

import (
	"github.com/pushwire/pushwire/httpcodec/h2/header"
	"golang.org/x/net/http2/hpack"
)

// Config sets a connection's limits. Zero fields take the defaults.
type Config struct {
	// MaxStreams bounds concurrently open streams; a HEADERS frame past it
	// is refused with RST_STREAM REFUSED_STREAM. Advertised as
	// SETTINGS_MAX_CONCURRENT_STREAMS. 0 = 100; at most 65535.
	MaxStreams int
	// MaxHeaderBytes bounds a request's decoded header list, counted as
	// SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 per field),
	// and is advertised as that setting. A list past it is answered 431; a
	// header block whose encoded size passes twice it is a connection error
	// (ENHANCE_YOUR_CALM). 0 = 8 KiB; at most 64 KiB.
	MaxHeaderBytes int
	// MaxBody bounds a request body per stream. It is the stream receive
	// window we advertise (SETTINGS_INITIAL_WINDOW_SIZE) and never replenish:
	// a declared Content-Length past it is answered 413, and DATA past it
	// breaks flow control (RST_STREAM FLOW_CONTROL_ERROR). 0 = 4 KiB.
	MaxBody int
	// HeaderTableSize is the HPACK table size we advertise. 0 (the default)
	// means the decoder keeps no state once the peer acknowledges our
	// SETTINGS; until then the peer may use the initial 4096 bytes. At most
	// 4096.
	HeaderTableSize int
	// Per-Tick budgets: past any of them the connection ends with GOAWAY
	// ENHANCE_YOUR_CALM. Streams reset by the peer or refused by us (rapid
	// reset, CVE-2023-44487): 0 = 200. PING frames: 0 = 100. SETTINGS frames:
	// 0 = 100. Frames that carry nothing (empty DATA or CONTINUATION,
	// PRIORITY, unknown types): 0 = 1000.
	MaxResets, MaxPings, MaxSettings, MaxEmpty int
}

const (
	defaultMaxStreams  = 100
	defaultMaxHeader   = 8 << 10
	defaultMaxBody     = 4 << 10
	defaultMaxResets   = 200
	defaultMaxPings    = 100
	defaultMaxSettings = 100
	defaultMaxEmpty    = 1000
)

// Read states.
const (
	stPreface uint8 = iota // matching the client preface
	stHeader               // collecting a 9-byte frame header
	stFixed                // collecting a fixed payload part into fix
	stContent              // handing payload bytes to the frame's sink
	stPad                  // skipping padding
	stDead                 // failed or closed: input is dropped
)

// Connection flags.
const (
	cfSettingsSeen  uint16 = 1 << iota // the peer's first SETTINGS arrived
	cfSettingsAcked                    // the peer acknowledged ours
	cfReady                            // EventReady reported
	cfGoAwaySent                       // no new streams
	cfGoAwayRecv
	cfTableSent // our first header block told the peer our table size is 0
)

// Conn is the server side of one HTTP/2 connection, without I/O: the loop
// feeds it the bytes it reads (Feed) and writes out the bytes it appends to
// the loop's buffers (Feed and the Write methods). It is not safe for
// concurrent use; the owning loop alone calls it.
type Conn struct {
	// Frame reader.
	st      uint8
	got     uint8 // bytes of the preface, header or fixed part collected
	need    uint8 // size of the fixed part being collected
	ftype   uint8
	fflags  uint8
	fstream uint32
	left    uint32 // payload bytes of the current frame still to come
	pad     uint32 // padding at the end of the current frame
	dataID  uint32 // stream the current DATA frame's bytes go to; 0 drops them
	hdr     [frameHeaderLen]byte
	fix     [8]byte

	flags       uint16
	lastID      uint32 // highest stream id the peer opened
	sendWin     int32  // connection send window (the peer's)
	recvWin     int32  // connection receive window left (ours)
	recvUnacked int32  // received and consumed, not yet given back
	peerInit    int32  // peer's SETTINGS_INITIAL_WINDOW_SIZE
	pingsOut    uint16 // our PINGs awaiting ACK
	hint        uint16 // where find starts looking

	// Abuse counters, cleared by Tick.
	resets, pings, settings, empty uint16

	lim limits

	streams []stream
	queued  int // DATA bytes in all streams' queues (QueuedTotal): kept as they queue, leave and go

	blk blockState
	hb  *header.Block
	dec *hpack.Decoder

	out []byte // the caller's buffer during a call
	ev  Event
}

// limits is Config resolved, kept compact.
type limits struct {
	maxStreams  uint16
	maxResets   uint16
	maxPings    uint16
	maxSettings uint16
	maxEmpty    uint16
	tableSize   uint16
	maxHeader   uint32
	maxBody     int32
}

func clampInt(v, def, hi int) int {
	if v <= 0 {
		return def
	}
	return min(v, hi)
}

// NewConn returns a connection waiting for the client preface. Call Start
// for the server's SETTINGS before writing anything else.
func NewConn(cfg Config) *Conn {
	c := &Conn{
		sendWin:  defaultWindow,
		recvWin:  defaultWindow,
		peerInit: defaultWindow,
	}
	c.lim = limits{
		maxStreams:  uint16(clampInt(cfg.MaxStreams, defaultMaxStreams, 1<<16-1)),
		maxResets:   uint16(clampInt(cfg.MaxResets, defaultMaxResets, 1<<16-1)),
		maxPings:    uint16(clampInt(cfg.MaxPings, defaultMaxPings, 1<<16-1)),
		maxSettings: uint16(clampInt(cfg.MaxSettings, defaultMaxSettings, 1<<16-1)),
		maxEmpty:    uint16(clampInt(cfg.MaxEmpty, defaultMaxEmpty, 1<<16-1)),
		tableSize:   uint16(min(max(cfg.HeaderTableSize, 0), peerTableSize)),
		maxHeader:   uint32(clampInt(cfg.MaxHeaderBytes, defaultMaxHeader, 64<<10)),
		maxBody:     int32(clampInt(cfg.MaxBody, defaultMaxBody, maxWindow)),
	}
	return c
}

// Start appends the server connection preface: our SETTINGS frame (RFC 9113
// §3.4). The loop writes it as soon as it knows the connection speaks h2,
// without waiting for the client's preface.
func (c *Conn) Start(dst []byte) []byte {
	dst = appendFrameHeader(dst, 5*6, frameSettings, 0, 0)
	dst = appendSetting(dst, settingHeaderTableSize, uint32(c.lim.tableSize))
	dst = appendSetting(dst, settingMaxConcurrentStreams, uint32(c.lim.maxStreams))
	dst = appendSetting(dst, settingInitialWindowSize, uint32(c.lim.maxBody))
	dst = appendSetting(dst, settingMaxFrameSize, maxFrameSize)
	return appendSetting(dst, settingMaxHeaderListSize, c.lim.maxHeader)
}

// Ready reports whether the handshake is done: the client preface and
// SETTINGS arrived and the client acknowledged ours. The loop's header
// timeout runs until then.
func (c *Conn) Ready() bool { return c.flags&cfReady != 0 }

// Closed reports whether the connection failed (EventConnError) and takes
// no more input.
func (c *Conn) Closed() bool { return c.st == stDead }

// Tick starts a new window for the abuse budgets (Config.MaxResets and the
// others). The loop calls it on a steady clock, e.g. once a second.
func (c *Conn) Tick() {
	c.resets, c.pings, c.settings, c.empty = 0, 0, 0, 0
}

// Feed parses inbound bytes. It consumes in until it has an event to report
// or in is used up, and returns dst with any frames the connection owes the
// peer appended (SETTINGS and PING acknowledgements, WINDOW_UPDATE, RST_STREAM,
// GOAWAY, and queued DATA a window update let out), the count of bytes of in
// it consumed, and the event (Kind EventNone when it ran out of input). The
// loop calls Feed again with in[n:] until it reports EventNone (in is then
// used up); Feed never looks at a byte twice and keeps nothing of in but what
// an event's views point at.
//
// Views reported by an event (Request, Event.Data) stay valid until the next
// call to Feed, which gives back the buffer behind them: that is why the loop
// calls until EventNone, even with nothing left to feed, so an idle
// connection holds no buffer.
func (c *Conn) Feed(dst, in []byte) ([]byte, int, Event) {
	if c.hb != nil && !c.blk.active {
		c.releaseBlock()
	}
	if c.st == stDead {
		return dst, len(in), Event{}
	}
	c.out, c.ev = dst, Event{}
	i := 0
	for i < len(in) && c.ev.Kind == EventNone && c.st != stDead {
		i += c.step(in[i:])
	}
	if c.st == stDead {
		i = len(in)
	}
	dst, c.out = c.out, nil
	return dst, i, c.ev
}

// step advances the reader by one part of a frame and returns the bytes used.
func (c *Conn) step(in []byte) int {
	switch c.st {
	case stPreface:
		k := min(len(in), len(ClientPreface)-int(c.got))
		if string(in[:k]) != ClientPreface[c.got:int(c.got)+k] {
			c.fail(ProtocolError)
			return k
		}
		c.got += uint8(k)
		if int(c.got) == len(ClientPreface) {
			c.got, c.st = 0, stHeader
		}
		return k
	case stHeader:
		k := copy(c.hdr[c.got:], in)
		c.got += uint8(k)
		if c.got == frameHeaderLen {
			c.got = 0
			c.beginFrame()
		}
		return k
	case stFixed:
		k := copy(c.fix[c.got:c.need], in)
		c.got += uint8(k)
		if c.got == c.need {
			c.got = 0
			c.left -= uint32(c.need)
			c.onFixed()
		}
		return k
	case stContent:
		k := min(len(in), int(c.left-c.pad))
		c.onContent(in[:k])
		c.left -= uint32(k)
		if c.left == c.pad && c.st == stContent {
			c.endContent()
		}
		return k
	case stPad:
		k := min(len(in), int(c.left))
		c.left -= uint32(k)
		if c.left == 0 {
			c.endFrame()
		}
		return k
	}
	return len(in)
}

// toFixed collects n bytes of fixed payload before onFixed.
func (c *Conn) toFixed(n int) {
	c.need, c.got, c.st = uint8(n), 0, stFixed
}

// toContent enters the frame's variable part: content, then padding.
func (c *Conn) toContent() {
	if c.st == stDead {
		return
	}
	if c.left > c.pad {
		c.st = stContent
		return
	}
	c.endContent()
}

func (c *Conn) endContent() {
	if c.left > 0 {
		c.st = stPad
		return
	}
	c.endFrame()
}

func (c *Conn) endFrame() {
	c.st = stHeader
	c.frameDone()
}

// fail ends the connection with GOAWAY and reports EventConnError.
func (c *Conn) fail(code ErrCode) {
	if c.st == stDead {
		return
	}
	c.out = appendGoAway(c.out, c.lastID, code)
	c.st = stDead
	c.ev = Event{Kind: EventConnError, Code: code}
	c.flags |= cfGoAwaySent
	c.dropDecoder()
	for i := range c.streams {
		c.streams[i].q = nil
	}
	c.streams, c.queued = nil, 0
}

// budget counts one unit against a per-Tick budget, failing the connection
// with ENHANCE_YOUR_CALM past it.
func (c *Conn) budget(n *uint16, max uint16) {
	if *n < max {
		*n++
		return
	}
	c.fail(EnhanceYourCalm)
}
