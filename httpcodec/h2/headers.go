package h2

import (
	"sync"

	"github.com/pushwire/pushwire/httpcodec/h2/header"
	"golang.org/x/net/http2/hpack"
)

// Request is a request's header block as views into the connection's field
// buffer, valid until the next call to Feed (header.Request).
type Request = header.Request

// blockState follows the header block in progress (HEADERS then any
// CONTINUATION, never interleaved with other frames).
type blockState struct {
	active   bool
	end      bool    // END_STREAM was on the HEADERS frame
	trailers bool    // the block ends an open request
	reject   ErrCode // answer with RST_STREAM(reject) once decoded; 0 = none
	stream   uint32
	wire     uint32 // encoded bytes so far
}

// Blocks are decoded even when their stream is refused or reset: HPACK state
// is shared by the connection, and a skipped block would desynchronise it.

func (c *Conn) beginHeaders() {
	id := c.fstream
	if id == 0 || id%2 == 0 {
		c.fail(ProtocolError) // clients open odd streams (§5.1.1)
		return
	}
	c.blk = blockState{active: true, stream: id, end: c.fflags&flagEndStream != 0}
	switch i := c.find(id); {
	case i >= 0 && c.streams[i].flags&sfRemoteEnded != 0:
		c.blk.reject = StreamClosed // half-closed (remote) (§5.1)
	case i >= 0:
		c.blk.trailers = true
		if !c.blk.end {
			c.blk.reject = ProtocolError // trailers end the stream (§8.1)
		}
	case id <= c.lastID:
		c.fail(ProtocolError) // reused or going backwards (§5.1.1)
		return
	default:
		c.lastID = id
		if c.flags&cfGoAwaySent != 0 || len(c.streams) >= int(c.lim.maxStreams) {
			c.blk.reject = RefusedStream // §5.1.2, §6.8
			c.budget(&c.resets, c.lim.maxResets)
			if c.st == stDead {
				return
			}
		}
	}
	need := 0
	if c.fflags&flagPadded != 0 {
		need++
	}
	if c.fflags&flagPriority != 0 {
		need += 5
	}
	if int(c.left) < need {
		c.fail(FrameSizeError)
		return
	}
	c.startBlock()
	if need > 0 {
		c.toFixed(need)
		return
	}
	c.addWire(c.left)
	c.toContent()
}

// headersFixed reads HEADERS' pad length and priority fields.
func (c *Conn) headersFixed() {
	f := c.fix[:]
	if c.fflags&flagPadded != 0 {
		c.pad = uint32(f[0])
		f = f[1:]
	}
	if c.fflags&flagPriority != 0 && getUint32(f)&0x7fffffff == c.fstream {
		c.blk.reject = ProtocolError // depends on itself (§5.3.1)
	}
	if c.pad > c.left {
		c.fail(ProtocolError)
		return
	}
	c.addWire(c.left - c.pad)
}

func (c *Conn) beginContinuation() {
	if !c.blk.active || c.fstream != c.blk.stream {
		c.fail(ProtocolError) // §6.10
		return
	}
	if c.left == 0 && c.fflags&flagEndHeaders == 0 {
		c.budget(&c.empty, c.lim.maxEmpty)
	}
	c.addWire(c.left)
	c.toContent()
}

// addWire bounds a header block's encoded size: twice the decoded limit, so a
// block no valid request needs ends the connection (CONTINUATION flood,
// CVE-2024-27316) however it decodes. Nothing is buffered meanwhile.
func (c *Conn) addWire(n uint32) {
	c.blk.wire += n
	if c.blk.wire > 2*c.lim.maxHeader {
		c.fail(EnhanceYourCalm)
	}
}

// decPool holds decoders with a 0-byte table, which carry no state between
// header blocks: once the peer acknowledged a table size of 0, a connection
// borrows one for each block only.
var decPool = sync.Pool{New: func() any { return hpack.NewDecoder(0, nil) }}

// hblockPool holds decoded-field buffers, borrowed per header block and
// given back when the views expire.
var hblockPool sync.Pool

// startBlock readies the decoder and field buffer for a header block.
func (c *Conn) startBlock() {
	if c.hb == nil {
		hb, _ := hblockPool.Get().(*header.Block)
		if hb == nil {
			hb = header.NewBlock()
		}
		c.hb = hb
	}
	c.hb.Reset(c.lim.maxHeader)
	if c.dec == nil {
		if c.flags&cfSettingsAcked != 0 && c.lim.tableSize == 0 {
			c.dec = decPool.Get().(*hpack.Decoder)
		} else {
			// Until the peer acknowledges our table size it may use the
			// initial 4096 bytes (§6.5.2): this decoder is kept between
			// blocks, up to ~24 KiB with x/net's maps (TestIdleMemory),
			// for no longer than the loop's header timeout.
			c.dec = hpack.NewDecoder(peerTableSize, nil)
			if c.flags&cfSettingsAcked != 0 {
				c.dec.SetAllowedMaxDynamicTableSize(uint32(c.lim.tableSize))
			}
		}
		c.dec.SetMaxStringLength(int(c.lim.maxHeader))
	}
	c.dec.SetEmitFunc(c.hb.EmitFunc())
	c.dec.SetEmitEnabled(true)
}

// decode feeds a fragment of the header block to HPACK. The decoder keeps
// an incomplete field (at most MaxHeaderBytes) between fragments.
func (c *Conn) decode(p []byte) {
	if _, err := c.dec.Write(p); err != nil {
		c.fail(CompressionError) // §4.3
		return
	}
	if c.hb.Over() {
		// Past the limit: decode on to keep the table in step, emit nothing.
		c.dec.SetEmitEnabled(false)
	}
}

// onSettingsAck applies our table size once the peer acknowledged it.
func (c *Conn) onSettingsAck() {
	c.flags |= cfSettingsAcked
	if c.dec == nil {
		return
	}
	if c.lim.tableSize == 0 {
		// The peer's next block must open with a table size update to 0
		// (RFC 7541 §4.2): nothing in this table can be referenced again.
		// It is dropped, not pooled: its maps keep the buckets of the
		// entries it held, and a pool of 1,500 of them after a connect
		// storm is a megabyte the next blocks do not need.
		c.dec = nil
		return
	}
	c.dec.SetAllowedMaxDynamicTableSize(uint32(c.lim.tableSize))
}

// dropDecoder forgets the decoder without pooling it (its state may be
// mid-field).
func (c *Conn) dropDecoder() {
	c.dec = nil
	c.blk.active = false
}

// finishBlock ends a header block on END_HEADERS: a request, trailers, or
// a refusal.
func (c *Conn) finishBlock() {
	if err := c.dec.Close(); err != nil {
		c.fail(CompressionError) // truncated field
		return
	}
	c.blk.active = false
	if c.flags&cfSettingsAcked != 0 && c.lim.tableSize == 0 {
		c.dec.SetEmitFunc(nil)
		decPool.Put(c.dec)
		c.dec = nil
	}
	b, hb := &c.blk, c.hb
	if b.reject != 0 {
		c.streamError(b.stream, b.reject)
		return
	}
	if b.trailers {
		if i := c.find(b.stream); i >= 0 {
			c.endRequest(i)
		}
		return
	}
	switch {
	case hb.Over():
		c.refuse(b.stream, 431, b.end) // §10.5.1
		return
	case hb.Malformed():
		c.streamError(b.stream, ProtocolError) // malformed (§8.1.1)
		return
	case hb.ContentLength() > int64(c.lim.maxBody):
		c.refuse(b.stream, 413, b.end)
		return
	}
	s := stream{id: b.stream, send: c.peerInit, recv: c.lim.maxBody, clen: int32(hb.ContentLength())}
	if b.end {
		if hb.ContentLength() > 0 {
			c.streamError(b.stream, ProtocolError)
			return
		}
		s.flags = sfRemoteEnded
	}
	if len(c.streams) == cap(c.streams) {
		// Grown by a quarter, not doubled: the slice is most of what each
		// further stream costs (TestIdleMemory), and streams come one by one.
		grown := make([]stream, len(c.streams), len(c.streams)+len(c.streams)/4+1)
		copy(grown, c.streams)
		c.streams = grown
	}
	c.streams = append(c.streams, s)
	c.ev = Event{Kind: EventRequest, Stream: b.stream, EndStream: b.end}
}

// refuse answers a request the connection turns down itself with a bare
// status and, when the client is still sending, RST_STREAM NO_ERROR so it
// stops (§8.1). The caller never sees the stream.
func (c *Conn) refuse(id uint32, status int, ended bool) {
	start := len(c.out)
	c.out = append(c.out, make([]byte, frameHeaderLen)...)
	c.out = c.appendStatusBlock(c.out, status)
	c.out = append(c.out, 0x0f, 0x0d, 0x01, '0') // content-length: 0 (static 28)
	putFrameHeader(c.out[start:], len(c.out)-start-frameHeaderLen, frameHeaders,
		flagEndHeaders|flagEndStream, id)
	if !ended {
		c.out = appendRSTStream(c.out, id, NoError)
	}
}

// releaseBlock gives the field buffer back once its views expired.
func (c *Conn) releaseBlock() {
	hblockPool.Put(c.hb)
	c.hb = nil
}

// Request returns the request reported by the last EventRequest. Its views
// are valid until the next call to Feed; nil when there is none.
func (c *Conn) Request() *Request {
	if c.hb == nil || c.blk.active {
		return nil
	}
	return c.hb.Request()
}
