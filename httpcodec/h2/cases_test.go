package h2

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// readCase is client input and what the server must report and answer.
type readCase struct {
	name   string
	cfg    Config
	in     func(cl *client) []byte
	events []string
	frames []string // server frames after its SETTINGS
}

func ready(cl *client) *client { return cl.preface() }

var readCases = []readCase{
	{
		name:   "handshake",
		in:     func(cl *client) []byte { return ready(cl).take() },
		events: []string{"ready"},
		frames: []string{"SETTINGS ack"},
	},
	{
		name: "GET",
		in:   func(cl *client) []byte { return ready(cl).get(1, "/sub?conn=a", "accept", "text/event-stream").take() },
		events: []string{"ready",
			"request 1 GET https://example.com/sub?conn=a accept=text/event-stream end"},
		frames: []string{"SETTINGS ack"},
	},
	{
		name: "POST body in padded and plain DATA",
		in: func(cl *client) []byte {
			ready(cl).post(3, "/ack?id=1", "content-length", "5")
			cl.fr.WriteDataPadded(3, false, []byte("ab"), make([]byte, 7))
			cl.fr.WriteData(3, true, []byte("cde"))
			return cl.take()
		},
		events: []string{"ready", "request 3 POST https://example.com/ack?id=1 content-length=5", `data 3 "abcde" end`},
		frames: []string{"SETTINGS ack"},
	},
	{
		name: "HEADERS + CONTINUATION, with padding and priority",
		in: func(cl *client) []byte {
			ready(cl)
			b := cl.block(":method", "GET", ":scheme", "http", ":path", "/x", ":authority", "h", "user-agent", strings.Repeat("u", 300))
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: b[:10], EndStream: true, PadLength: 3,
				Priority: http2.PriorityParam{StreamDep: 1, Weight: 7}})
			cl.fr.WriteContinuation(5, false, b[10:100])
			cl.fr.WriteContinuation(5, true, b[100:])
			return cl.take()
		},
		events: []string{"ready", "request 5 GET http://h/x user-agent=" + strings.Repeat("u", 300) + " end"},
		frames: []string{"SETTINGS ack"},
	},
	{
		name: "PING answered, PRIORITY and unknown frames ignored",
		in: func(cl *client) []byte {
			ready(cl).fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
			cl.fr.WritePriority(9, http2.PriorityParam{StreamDep: 0, Weight: 1})
			cl.fr.WriteRawFrame(0xfa, 0xff, 0, []byte("whatever"))
			cl.get(1, "/")
			return cl.take()
		},
		events: []string{"ready", "request 1 GET https://example.com/ end"},
		frames: []string{"SETTINGS ack", "PING ack 0102030405060708"},
	},
	{
		name: "peer resets a stream, then goes away",
		in: func(cl *client) []byte {
			ready(cl).post(1, "/ack")
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/ack", "reset 1 CANCEL", "goaway NO_ERROR"},
		frames: []string{"SETTINGS ack"},
	},
	{
		name:   "bad preface",
		in:     func(cl *client) []byte { return []byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") },
		events: []string{"connerr PROTOCOL_ERROR"},
		frames: []string{"GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "first frame not SETTINGS",
		in: func(cl *client) []byte {
			cl.buf.WriteString(ClientPreface)
			cl.fr.WritePing(false, [8]byte{})
			return cl.take()
		},
		events: []string{"connerr PROTOCOL_ERROR"},
		frames: []string{"GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "frame past 16384",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteRawFrame(0xfa, 0, 0, make([]byte, 16385))
			return cl.take()
		},
		events: []string{"ready", "connerr FRAME_SIZE_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 FRAME_SIZE_ERROR"},
	},
	{
		name: "PUSH_PROMISE from a client",
		in: func(cl *client) []byte {
			ready(cl).fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, EndHeaders: true})
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "frame between HEADERS and CONTINUATION",
		in: func(cl *client) []byte {
			ready(cl)
			b := cl.block(":method", "GET", ":scheme", "http", ":path", "/x")
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:2], EndStream: true})
			cl.fr.WritePing(false, [8]byte{})
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 1 PROTOCOL_ERROR"},
	},
	{
		name: "CONTINUATION without HEADERS",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteContinuation(1, true, []byte{0x82})
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name:   "even stream id",
		in:     func(cl *client) []byte { return ready(cl).get(2, "/").take() },
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name:   "stream id going backwards",
		in:     func(cl *client) []byte { return ready(cl).get(5, "/a").get(3, "/b").take() },
		events: []string{"ready", "request 5 GET https://example.com/a end", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 5 PROTOCOL_ERROR"},
	},
	{
		name: "stream id reused after reset",
		in: func(cl *client) []byte {
			ready(cl).get(1, "/a")
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			return cl.get(1, "/b").take()
		},
		events: []string{"ready", "request 1 GET https://example.com/a end", "reset 1 CANCEL", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 1 PROTOCOL_ERROR"},
	},
	{
		name: "RST_STREAM on an idle stream",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteRSTStream(7, http2.ErrCodeCancel)
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "WINDOW_UPDATE of 0 on the connection",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteWindowUpdate(0, 0)
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "connection window overflow",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteWindowUpdate(0, 1<<31-1)
			return cl.take()
		},
		events: []string{"ready", "connerr FLOW_CONTROL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 FLOW_CONTROL_ERROR"},
	},
	{
		name: "stream window overflow is a stream error",
		in: func(cl *client) []byte {
			ready(cl).get(1, "/")
			cl.fr.WriteWindowUpdate(1, 1<<31-1)
			return cl.take()
		},
		events: []string{"ready", "request 1 GET https://example.com/ end", "reset 1 FLOW_CONTROL_ERROR"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 FLOW_CONTROL_ERROR"},
	},
	{
		name: "SETTINGS_ENABLE_PUSH 2",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2})
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "SETTINGS_INITIAL_WINDOW_SIZE past 2^31-1",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
			return cl.take()
		},
		events: []string{"ready", "connerr FLOW_CONTROL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 FLOW_CONTROL_ERROR"},
	},
	{
		name: "SETTINGS_MAX_FRAME_SIZE too small",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100})
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "SETTINGS length not a multiple of 6",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteRawFrame(http2.FrameSettings, 0, 0, make([]byte, 7))
			return cl.take()
		},
		events: []string{"ready", "connerr FRAME_SIZE_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 FRAME_SIZE_ERROR"},
	},
	{
		name: "PING of the wrong length",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7))
			return cl.take()
		},
		events: []string{"ready", "connerr FRAME_SIZE_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 FRAME_SIZE_ERROR"},
	},
	{
		name: "malformed requests are stream errors",
		in: func(cl *client) []byte {
			ready(cl).get(1, "/", "Upper", "x")
			cl.get(3, "/", "connection", "close")
			cl.get(5, "/", "te", "gzip")
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, EndStream: true, EndHeaders: true,
				BlockFragment: cl.block(":method", "GET", ":scheme", "http")})
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 9, EndStream: true, EndHeaders: true,
				BlockFragment: cl.block(":method", "GET", "a", "b", ":scheme", "http", ":path", "/")})
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 11, EndStream: true, EndHeaders: true,
				BlockFragment: cl.block(":method", "GET", ":method", "GET", ":scheme", "http", ":path", "/")})
			cl.get(13, "/", "x", " padded")
			cl.get(15, "/ok")
			return cl.take()
		},
		events: []string{"ready", "request 15 GET https://example.com/ok end"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 3 PROTOCOL_ERROR",
			"RST_STREAM 5 PROTOCOL_ERROR", "RST_STREAM 7 PROTOCOL_ERROR", "RST_STREAM 9 PROTOCOL_ERROR",
			"RST_STREAM 11 PROTOCOL_ERROR", "RST_STREAM 13 PROTOCOL_ERROR"},
	},
	{
		name:   "streams past the maximum are refused",
		cfg:    Config{MaxStreams: 2},
		in:     func(cl *client) []byte { return ready(cl).post(1, "/a").post(3, "/b").post(5, "/c").take() },
		events: []string{"ready", "request 1 POST https://example.com/a", "request 3 POST https://example.com/b"},
		frames: []string{"SETTINGS ack", "RST_STREAM 5 REFUSED_STREAM"},
	},
	{
		name: "DATA on an idle stream",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteData(1, true, []byte("x"))
			return cl.take()
		},
		events: []string{"ready", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 0 PROTOCOL_ERROR"},
	},
	{
		name: "DATA after END_STREAM",
		in: func(cl *client) []byte {
			ready(cl).get(1, "/")
			cl.fr.WriteData(1, true, []byte("x"))
			return cl.take()
		},
		events: []string{"ready", "request 1 GET https://example.com/ end", "reset 1 STREAM_CLOSED"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 STREAM_CLOSED"},
	},
	{
		name: "DATA with padding as long as the payload",
		in: func(cl *client) []byte {
			ready(cl).post(1, "/")
			cl.fr.WriteRawFrame(http2.FrameData, 0x8, 1, []byte{3, 0, 0})
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/", "connerr PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 1 PROTOCOL_ERROR"},
	},
	{
		name: "body longer than its content-length",
		in: func(cl *client) []byte {
			ready(cl).post(1, "/", "content-length", "2")
			cl.fr.WriteData(1, true, []byte("abc"))
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/ content-length=2", "reset 1 PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 PROTOCOL_ERROR"},
	},
	{
		name: "body shorter than its content-length",
		in: func(cl *client) []byte {
			ready(cl).post(1, "/", "content-length", "4")
			cl.fr.WriteData(1, true, []byte("abc"))
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/ content-length=4", "reset 1 PROTOCOL_ERROR"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 PROTOCOL_ERROR"},
	},
	{
		name:   "declared body past MaxBody is 413",
		cfg:    Config{MaxBody: 100},
		in:     func(cl *client) []byte { return ready(cl).post(1, "/", "content-length", "101").take() },
		events: []string{"ready"},
		frames: []string{"SETTINGS ack", "HEADERS 1 :status=413 content-length=0 end", "RST_STREAM 1 NO_ERROR"},
	},
	{
		name: "DATA past the stream window",
		cfg:  Config{MaxBody: 4},
		in: func(cl *client) []byte {
			ready(cl).post(1, "/")
			cl.fr.WriteData(1, true, []byte("abcde"))
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/", "reset 1 FLOW_CONTROL_ERROR"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 FLOW_CONTROL_ERROR"},
	},
	{
		name: "header list past MaxHeaderBytes is 431",
		cfg:  Config{MaxHeaderBytes: 300},
		in: func(cl *client) []byte {
			return ready(cl).get(1, "/", "cookie", strings.Repeat("c", 200)).get(3, "/next").take()
		},
		events: []string{"ready", "request 3 GET https://example.com/next end"},
		frames: []string{"SETTINGS ack", "HEADERS 1 :status=431 content-length=0 end"},
	},
	{
		name: "HPACK garbage",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, EndHeaders: true})
			return cl.take()
		},
		events: []string{"ready", "connerr COMPRESSION_ERROR"},
		frames: []string{"SETTINGS ack", "GOAWAY 1 COMPRESSION_ERROR"},
	},
	{
		name: "HEADERS depending on itself",
		in: func(cl *client) []byte {
			ready(cl).fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: cl.block(":method", "GET", ":scheme", "http", ":path", "/"),
				Priority:      http2.PriorityParam{StreamDep: 1, Weight: 1}})
			return cl.get(3, "/x").take()
		},
		events: []string{"ready", "request 3 GET https://example.com/x end"},
		frames: []string{"SETTINGS ack", "RST_STREAM 1 PROTOCOL_ERROR"},
	},
	{
		name: "trailers end a request",
		in: func(cl *client) []byte {
			ready(cl).post(1, "/")
			cl.fr.WriteData(1, false, []byte("x"))
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: cl.block("t", "v")})
			return cl.take()
		},
		events: []string{"ready", "request 1 POST https://example.com/", `data 1 "x" end`},
		frames: []string{"SETTINGS ack"},
	},
}

// TestReadCases feeds every case whole, byte by byte, cut at every split
// point and in random pieces: the events and the output bytes must be the
// same every time.
func TestReadCases(t *testing.T) {
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(newClient())
			whole := newServer(tc.cfg)
			whole.feed(t, in)
			if !slices.Equal(whole.events, tc.events) {
				t.Errorf("events:\n got %q\nwant %q", whole.events, tc.events)
			}
			if got := whole.frames(t); !slices.Equal(got, tc.frames) {
				t.Errorf("frames:\n got %q\nwant %q", got, tc.frames)
			}
			check := func(how string, s *server) {
				t.Helper()
				if !slices.Equal(s.events, whole.events) || string(s.out) != string(whole.out) {
					t.Fatalf("%s: events %q, %d output bytes; whole: %q, %d bytes", how, s.events, len(s.out), whole.events, len(whole.out))
				}
			}
			bytewise := newServer(tc.cfg)
			for i := range in {
				bytewise.feed(t, in[i:i+1])
			}
			check("byte by byte", bytewise)
			for cut := 1; cut < len(in); cut++ {
				s := newServer(tc.cfg)
				s.feed(t, in, cut)
				check("split at "+itoa(cut), s)
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(in))))
			for range 20 {
				var cuts []int
				for at := rng.IntN(7); at < len(in); at += 1 + rng.IntN(40) {
					cuts = append(cuts, at)
				}
				s := newServer(tc.cfg)
				s.feed(t, in, cuts...)
				check("random split", s)
			}
		})
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
