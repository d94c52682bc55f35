package nodetest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// RawH2 is a frame-level h2c client, for what x/net's client will not do
// (hold a window shut, skip the SETTINGS ACK, open past the limit) and to see
// the frames the server sends.
type RawH2 struct {
	T    *testing.T
	Conn net.Conn
	Fr   *http2.Framer
	Hdrs map[uint32]map[string]string // response fields by stream, as Next decodes them
	dec  *hpack.Decoder
}

// DialRawH2 opens a raw h2c connection to the edge listening at addr: the
// preface and our SETTINGS (with settings) are sent; the server's come with
// the first Next.
func DialRawH2(t *testing.T, addr net.Addr, settings ...http2.Setting) *RawH2 {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &RawH2{T: t, Conn: conn, Fr: http2.NewFramer(conn, conn), Hdrs: map[uint32]map[string]string{}}
	c.dec = hpack.NewDecoder(4096, nil)
	if err := c.Fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// Get opens stream id with a GET of path.
func (c *RawH2) Get(id uint32, path string) {
	c.T.Helper()
	c.Request(id, "GET", path)
}

// Request opens stream id with method on path, without a body.
func (c *RawH2) Request(id uint32, method, path string) {
	c.T.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", method}, {":scheme", "http"}, {":authority", "t"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.Fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.T.Fatal(err)
	}
}

// Next reads the next frame, acknowledging the server's SETTINGS and
// decoding response heads into c.Hdrs; it returns nil at EOF.
func (c *RawH2) Next(ackSettings bool) http2.Frame {
	c.T.Helper()
	f, err := c.Fr.ReadFrame()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "reset by peer") {
			return nil
		}
		c.T.Fatalf("reading a frame: %v", err)
	}
	if testing.Verbose() {
		c.T.Logf("frame %v", f)
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if ackSettings && !f.IsAck() {
			c.Fr.WriteSettingsAck()
		}
	case *http2.HeadersFrame:
		fields, err := c.dec.DecodeFull(f.HeaderBlockFragment())
		if err != nil {
			c.T.Fatalf("decoding HEADERS: %v", err)
		}
		m := map[string]string{}
		for _, hf := range fields {
			m[hf.Name] = hf.Value
		}
		c.Hdrs[f.StreamID] = m
	}
	return f
}

// Until reads frames until pred holds for one, and returns it.
func (c *RawH2) Until(what string, pred func(http2.Frame) bool) http2.Frame {
	c.T.Helper()
	for {
		f := c.Next(true)
		if f == nil {
			c.T.Fatalf("connection ended before %s", what)
		}
		if pred(f) {
			return f
		}
	}
}

// IsData holds for a DATA frame of stream id that contains contains.
func IsData(id uint32, contains string) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		d, ok := f.(*http2.DataFrame)
		return ok && d.StreamID == id && strings.Contains(string(d.Data()), contains)
	}
}

// Flood writes what build frames, built into one buffer, in the background
// (the server answers meanwhile, and the test reads those answers).
func (c *RawH2) Flood(build func(fr *http2.Framer)) {
	var buf bytes.Buffer
	build(http2.NewFramer(&buf, nil))
	go c.Conn.Write(buf.Bytes())
}

// GoAway reads until the GOAWAY and returns its code; the connection must
// close after it.
func (c *RawH2) GoAway() http2.ErrCode {
	c.T.Helper()
	var code http2.ErrCode
	for {
		f := c.Next(true)
		if f == nil {
			c.T.Fatal("the connection closed without GOAWAY")
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			code = g.ErrCode
			break
		}
	}
	c.Conn.(*net.TCPConn).CloseWrite() // the server's lingering close waits for our FIN
	for c.Next(false) != nil {
	}
	return code
}
