package server

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

// Until the hand-off moves to its own package (and its test to servertest's client):
// the raw client, as in h2edge/servertest.

// rawH2 is a frame-level h2c client, for what x/net's client will not do
// (hold a window shut, skip the SETTINGS ACK, open past the limit) and to see
// the frames the server sends.
type rawH2 struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	dec  *hpack.Decoder
	hdrs map[uint32]map[string]string
}

func dialRawH2(t *testing.T, s *Server, settings ...http2.Setting) *rawH2 {
	t.Helper()
	conn, err := net.Dial("tcp", s.EdgeAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &rawH2{t: t, conn: conn, fr: http2.NewFramer(conn, conn), hdrs: map[uint32]map[string]string{}}
	c.dec = hpack.NewDecoder(4096, nil)
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// get opens stream id with a GET of path.
func (c *rawH2) get(id uint32, path string) {
	c.t.Helper()
	c.request(id, "GET", path)
}

// request opens stream id with method on path, without a body.
func (c *rawH2) request(id uint32, method, path string) {
	c.t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", method}, {":scheme", "http"}, {":authority", "t"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next frame, acknowledging the server's SETTINGS and
// decoding response heads into c.hdrs; it returns nil at EOF.
func (c *rawH2) next(ackSettings bool) http2.Frame {
	c.t.Helper()
	f, err := c.fr.ReadFrame()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "reset by peer") {
			return nil
		}
		c.t.Fatalf("reading a frame: %v", err)
	}
	if testing.Verbose() {
		c.t.Logf("frame %v", f)
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if ackSettings && !f.IsAck() {
			c.fr.WriteSettingsAck()
		}
	case *http2.HeadersFrame:
		fields, err := c.dec.DecodeFull(f.HeaderBlockFragment())
		if err != nil {
			c.t.Fatalf("decoding HEADERS: %v", err)
		}
		m := map[string]string{}
		for _, hf := range fields {
			m[hf.Name] = hf.Value
		}
		c.hdrs[f.StreamID] = m
	}
	return f
}

// until reads frames until pred holds for one, and returns it.
func (c *rawH2) until(what string, pred func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	for {
		f := c.next(true)
		if f == nil {
			c.t.Fatalf("connection ended before %s", what)
		}
		if pred(f) {
			return f
		}
	}
}

func isData(id uint32, contains string) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		d, ok := f.(*http2.DataFrame)
		return ok && d.StreamID == id && strings.Contains(string(d.Data()), contains)
	}
}
