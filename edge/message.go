package edge

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Message is one published push. It is shared, read-only once published, by
// every loop that delivers it and by the stores that keep it; refs counts
// them, and the last release returns it to messagePool with its buffers, so a
// steady stream of pushes allocates nothing.
type Message struct {
	refs atomic.Int32
	push.Message
	// Born is when this node read the publish or took the push from a peer:
	// the start of its delivery delay (admin/metrics.go); zero for a stored message
	// read back, whose delay is not observed.
	Born time.Time

	// frames are encoded on first use by whichever loop needs that format
	// first; mu guards the encoding, after which the bytes are read-only.
	mu     sync.Mutex
	frames [push.NumFormats]frame
}

// frame is a message encoded for one stream format: one buffer holding the
// HTTP/1.1 chunk framing around the bare frame, so both views share bytes.
type frame struct {
	buf     []byte
	chunked []byte // "<hex>\r\n" frame "\r\n"
	Raw     []byte // the frame alone, for HTTP/1.0 close-delimited streams
}

var messagePool = sync.Pool{New: func() any { return new(Message) }}

// NewMessage takes a message from the pool holding one reference.
func NewMessage(seq uint64, timeMs int64) *Message {
	m := messagePool.Get().(*Message)
	m.refs.Store(1)
	m.Seq, m.TimeMs = seq, timeMs
	m.Born = time.Time{}
	m.ID = strconv.AppendUint(m.ID[:0], seq, 10)
	return m
}

// SetPublished copies a publish's fields into m's own buffers. A JSON
// payload is compacted here, on the node that took the publish, and only
// here: peers and the QoS store get it compact (setPayload).
func (m *Message) SetPublished(to, event, ctype, data []byte, json bool, qos uint8) {
	m.setFields(to, event, ctype, json, qos)
	if json {
		m.Data = push.AppendCompactJSON(m.Data[:0], data)
	} else {
		m.Data = append(m.Data[:0], data...)
	}
}

// SetPayload copies the fields of a message published elsewhere (a push
// taken from a peer, a message read back from the QoS store) into m's own
// buffers; its JSON data was compacted by the node that took the publish.
func (m *Message) SetPayload(to, event, ctype, data []byte, json bool, qos uint8) {
	m.setFields(to, event, ctype, json, qos)
	m.Data = append(m.Data[:0], data...)
}

func (m *Message) setFields(to, event, ctype []byte, json bool, qos uint8) {
	m.To = append(m.To[:0], to...)
	m.Event = append(m.Event[:0], event...)
	m.ContentType = append(m.ContentType[:0], ctype...)
	m.JSON, m.QoS = json, qos
}

func (m *Message) RetainN(n int32) { m.refs.Add(n) }

// Push and Retain, with Release, make a message a store.Message: the
// stores keep it by reference.
func (m *Message) Push() *push.Message { return &m.Message }
func (m *Message) Retain()             { m.refs.Add(1) }

// Release drops one reference; it is the engine.Releaser a loop defers after
// the flush that wrote the message's bytes.
func (m *Message) Release() {
	switch n := m.refs.Add(-1); {
	case n == 0:
		for i := range m.frames {
			f := &m.frames[i]
			f.buf, f.chunked, f.Raw = f.buf[:0], nil, nil
		}
		m.Expiry = 0
		messagePool.Put(m)
	case n < 0:
		panic("server: message released more often than retained")
	}
}

// Frame returns m encoded for format f, encoding it on first use.
func (m *Message) Frame(f push.Format, boundary []byte) *frame {
	m.mu.Lock()
	fr := &m.frames[f]
	if fr.chunked == nil {
		fr.buf = httpcodec.AppendChunkedFrame(fr.buf[:0], func(dst []byte) []byte {
			return push.AppendMessageFrame(dst, f, &m.Message, boundary)
		})
		fr.chunked, fr.Raw = httpcodec.SplitChunkedFrame(fr.buf)
	}
	m.mu.Unlock()
	return fr
}
