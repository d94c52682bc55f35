package h2

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// client writes client frames with x/net's Framer: the reference encoder
// our reader is checked against.
type client struct {
	buf  bytes.Buffer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func newClient() *client {
	cl := &client{}
	cl.fr = http2.NewFramer(&cl.buf, nil)
	cl.fr.AllowIllegalWrites = true
	cl.enc = hpack.NewEncoder(&cl.hbuf)
	return cl
}

// preface writes the client preface and an empty SETTINGS frame, then
// acknowledges the server's SETTINGS.
func (cl *client) preface() *client {
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	// A client applies our SETTINGS before acknowledging them: our table
	// size of 0 makes its encoder open the next block with a size update.
	cl.enc.SetMaxDynamicTableSizeLimit(0)
	cl.fr.WriteSettingsAck()
	return cl
}

// block HPACK-encodes fields given as "name", "value" pairs.
func (cl *client) block(kv ...string) []byte {
	cl.hbuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		cl.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(cl.hbuf.Bytes())
}

// get opens stream id with a complete GET for path.
func (cl *client) get(id uint32, path string, extra ...string) *client {
	kv := append([]string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(kv...), EndStream: true, EndHeaders: true})
	return cl
}

// post opens stream id with a POST whose body follows.
func (cl *client) post(id uint32, path string, extra ...string) *client {
	kv := append([]string{":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: cl.block(kv...), EndHeaders: true})
	return cl
}

func (cl *client) take() []byte {
	b := bytes.Clone(cl.buf.Bytes())
	cl.buf.Reset()
	return b
}

// server drives a Conn and records what it reported, normalised so that
// the same input split differently records the same thing.
type server struct {
	c      *Conn
	out    []byte
	events []string
}

func newServer(cfg Config) *server {
	s := &server{c: NewConn(cfg)}
	s.out = s.c.Start(nil)
	return s
}

// feed hands in to Feed in pieces cut at the given offsets.
func (s *server) feed(t testing.TB, in []byte, cuts ...int) {
	t.Helper()
	prev := 0
	for _, cut := range append(cuts, len(in)) {
		s.feedOne(t, in[prev:cut])
		prev = cut
	}
}

func (s *server) feedOne(t testing.TB, in []byte) {
	t.Helper()
	// The loop's shape: Feed until it reports nothing; that last call also
	// releases the views of the event before.
	for guard := 0; ; guard++ {
		if guard > 1<<20 {
			t.Fatal("Feed makes no progress")
		}
		var n int
		var ev Event
		s.out, n, ev = s.c.Feed(s.out, in)
		if n < 0 || n > len(in) || (n == 0 && ev.Kind == EventNone && len(in) > 0) {
			t.Fatalf("Feed consumed %d of %d with no event", n, len(in))
		}
		in = in[n:]
		if ev.Kind == EventNone {
			return
		}
		s.record(ev)
	}
}

func (s *server) record(ev Event) {
	switch ev.Kind {
	case EventNone:
	case EventReady:
		s.events = append(s.events, "ready")
	case EventRequest:
		r := s.c.Request()
		var b strings.Builder
		fmt.Fprintf(&b, "request %d %s %s://%s%s", ev.Stream, r.Method(), r.Scheme(), r.Authority(), r.Target())
		for i := 0; i < r.NumHeaders(); i++ {
			n, v := r.HeaderAt(i)
			fmt.Fprintf(&b, " %s=%s", n, v)
		}
		if ev.EndStream {
			b.WriteString(" end")
		}
		s.events = append(s.events, b.String())
	case EventData:
		// Pieces of one body merge: splitting the input splits them.
		last := len(s.events) - 1
		prefix := fmt.Sprintf("data %d ", ev.Stream)
		if last >= 0 && strings.HasPrefix(s.events[last], prefix) && !strings.HasSuffix(s.events[last], " end") {
			s.events[last] = strings.TrimSuffix(s.events[last], `"`) + string(ev.Data) + `"`
		} else {
			s.events = append(s.events, prefix+`"`+string(ev.Data)+`"`)
		}
		if ev.EndStream {
			s.events[len(s.events)-1] += " end"
		}
	case EventReset:
		s.events = append(s.events, fmt.Sprintf("reset %d %v", ev.Stream, ev.Code))
	case EventWindow:
		s.events = append(s.events, fmt.Sprintf("window %d", ev.Stream))
	case EventPingAck:
		s.events = append(s.events, "pingack")
	case EventGoAway:
		s.events = append(s.events, fmt.Sprintf("goaway %v", ev.Code))
	case EventConnError:
		s.events = append(s.events, fmt.Sprintf("connerr %v", ev.Code))
	}
}

// frames parses server output with x/net's Framer (HPACK decoding
// included) and describes each frame; the server's own SETTINGS are left
// out.
func frames(t testing.TB, out []byte) []string {
	t.Helper()
	fr := http2.NewFramer(io.Discard, bytes.NewReader(out))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var got []string
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("x/net Framer rejects our output: %v", err)
		}
		got = append(got, describe(f))
	}
}

func describe(f http2.Frame) string {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return "SETTINGS ack"
		}
		var b strings.Builder
		b.WriteString("SETTINGS")
		f.ForeachSetting(func(s http2.Setting) error {
			fmt.Fprintf(&b, " %v=%d", s.ID, s.Val)
			return nil
		})
		return b.String()
	case *http2.MetaHeadersFrame:
		var b strings.Builder
		fmt.Fprintf(&b, "HEADERS %d", f.StreamID)
		for _, hf := range f.Fields {
			fmt.Fprintf(&b, " %s=%s", hf.Name, hf.Value)
		}
		if f.StreamEnded() {
			b.WriteString(" end")
		}
		return b.String()
	case *http2.DataFrame:
		s := fmt.Sprintf("DATA %d %q", f.StreamID, f.Data())
		if f.StreamEnded() {
			s += " end"
		}
		return s
	case *http2.RSTStreamFrame:
		return fmt.Sprintf("RST_STREAM %d %v", f.StreamID, f.ErrCode)
	case *http2.GoAwayFrame:
		return fmt.Sprintf("GOAWAY %d %v", f.LastStreamID, f.ErrCode)
	case *http2.WindowUpdateFrame:
		return fmt.Sprintf("WINDOW_UPDATE %d %d", f.StreamID, f.Increment)
	case *http2.PingFrame:
		if f.IsAck() {
			return fmt.Sprintf("PING ack %x", f.Data)
		}
		return fmt.Sprintf("PING %x", f.Data)
	}
	return fmt.Sprintf("%v", f.Header())
}

// serverFrames returns the frames after the server's own SETTINGS.
func (s *server) frames(t testing.TB) []string {
	t.Helper()
	f := frames(t, s.out)
	if len(f) == 0 || !strings.HasPrefix(f[0], "SETTINGS ") {
		t.Fatalf("output does not start with our SETTINGS: %q", f)
	}
	return f[1:]
}
