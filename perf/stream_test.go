package perf

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// frameLog records what a Stream hands on.
type frameLog struct {
	messages []string
	control  int
}

func (f *frameLog) Frame(message bool, data []byte) {
	if message {
		f.messages = append(f.messages, string(data))
	} else {
		f.control++
	}
}

type streamCase struct {
	name     string
	format   Format
	wire     string
	status   int
	key      string
	messages []string
	control  int
	err      error
	// centrifugo sets Stream.Centrifugo; notLive expects Live() false at the end.
	centrifugo, notLive bool
	// lastID and retryMs are the SSE cursor and retry expected at the end.
	lastID  uint64
	retryMs uint32
}

var streamCases = []streamCase{
	{
		name:   "pushwire ndjson chunked",
		format: FormatNDJSON,
		wire: "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nPush-Conn: k3y_AbC\r\n\r\n" +
			chunk(`{"protocol":1,"time":1,"state":"registered","conn":"k3y_AbC"}`+"\n") +
			chunk(`{"protocol":0,"time":2}`+"\n") +
			chunk(`{"protocol":2,"time":3,"id":"m1","to":"conn:k3y_AbC","data":"pbm:7:123;"}`+"\n"+`{"protocol":2,"time":3,"id":"m2","to":"user:u","data":{"a":1}}`+"\n"),
		status: 200, key: "k3y_AbC", control: 2,
		messages: []string{`{"protocol":2,"time":3,"id":"m1","to":"conn:k3y_AbC","data":"pbm:7:123;"}`, `{"protocol":2,"time":3,"id":"m2","to":"user:u","data":{"a":1}}`},
	},
	{
		name:   "pushwire ndjson frame split over chunks, HTTP/1.0 unchunked",
		format: FormatNDJSON,
		wire:   "HTTP/1.0 200 OK\r\npush-conn: abc\r\n\r\n" + `{"protocol":2,"data":"pbm:1:2;"}` + "\n" + `{"protocol":3,"cmd":"reconnect","retry":100}` + "\n",
		status: 200, key: "abc", control: 1,
		messages: []string{`{"protocol":2,"data":"pbm:1:2;"}`},
	},
	{
		name:   "pushwire sse",
		format: FormatSSE,
		wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nPush-Conn: q\r\n\r\n" +
			chunk("retry: 2000\n\nevent: registered\ndata: {\"protocol\":1,\"conn\":\"q\"}\n\n") +
			chunk(": hb 1700000000000\n\n") +
			chunk("id: 5\nevent: message\ndata: pbm:5:99;xx\n\n") +
			chunk("id: 6\nevent: reconnect\ndata: {\"retry\":5}\n\n") +
			chunk(": resend\nid: 4\nevent: message\ndata: pbm:4:98;\n\n"),
		status: 200, key: "q", control: 2,
		messages: []string{"pbm:5:99;xx", "pbm:4:98;"},
		lastID:   6, retryMs: 2000, // a resend's older id does not move the cursor back
	},
	{
		name:   "nchan eventsource",
		format: FormatSSE,
		wire: "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" +
			chunk(": hi\n\n") + chunk("id: 1795295328:0\ndata: hello pbm:1:2;\n\n"),
		status: 200, messages: []string{"hello pbm:1:2;"},
	},
	{
		name:   "nchan chunked subscriber: one message per chunk",
		format: FormatChunk,
		wire:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("pbm:1:2;") + "E;ext=1\r\n" + "pbm:2:3;xxxxxx" + "\r\n",
		status: 200, messages: []string{"pbm:1:2;", "pbm:2:3;xxxxxx"},
	},
	{
		name: "centrifugo uni_sse: connect reply and pings are control, live from the connect", format: FormatSSE, centrifugo: true,
		wire: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk("\r\n") +
			chunk(`data: {"connect":{"client":"c-1","version":"6.9.1 OSS","subs":{"pbu3":{}},"ping":60,"session":"s-1"}}`+"\n\n") +
			chunk("data: {}\n\n") +
			chunk(`data: {"channel":"pbu3","pub":{"data":"pbm:3:77;"}}`+"\n\n"),
		status: 200, control: 2, messages: []string{`{"channel":"pbu3","pub":{"data":"pbm:3:77;"}}`},
	},
	{
		name: "centrifugo before its connect reply is not live", format: FormatSSE, centrifugo: true, notLive: true,
		wire:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("\r\n"),
		status: 200,
	},
	{
		name: "centrifugo disconnect is control and never live", format: FormatSSE, centrifugo: true, notLive: true,
		wire:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(`data: {"disconnect":{"code":3501,"reason":"bad request"}}`+"\n\n"),
		status: 200, control: 1,
	},
	{
		name: "floor stream: raw body until close", format: FormatSSE,
		wire:   string(floorHead) + "data: pbm:1:2;\n\ndata: pbm:2:3;xx\n\n",
		status: 200, messages: []string{"pbm:1:2;", "pbm:2:3;xx"},
	},
	{
		name: "crlf line endings in sse", format: FormatSSE,
		wire:   "HTTP/1.1 200 OK\r\n\r\ndata: pbm:1:1;\r\n\r\n",
		status: 200, messages: []string{"pbm:1:1;"},
	},
	{
		name: "non-200 status is reported", format: FormatNDJSON,
		wire:   "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		status: 404,
	},
	{
		name: "bad chunk size", format: FormatNDJSON,
		wire:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		status: 200, err: ErrBadChunk,
	},
	{
		name: "last chunk ends the stream", format: FormatNDJSON,
		wire:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		status: 200, err: ErrStreamEnd,
	},
	{
		name: "garbage status line", format: FormatNDJSON,
		wire: "HTTX/1.1 200 OK\r\n\r\n", err: ErrBadHead,
	},
}

func chunk(s string) string {
	return string(appendHex(nil, len(s))) + "\r\n" + s + "\r\n"
}

func appendHex(dst []byte, n int) []byte {
	const digits = "0123456789abcdef"
	if n >= 16 {
		dst = appendHex(dst, n/16)
	}
	return append(dst, digits[n%16])
}

// feed runs one case with the wire cut at the given offsets.
func feed(t *testing.T, c streamCase, cuts []int) {
	t.Helper()
	s := Stream{Format: c.format, Centrifugo: c.centrifugo}
	var log frameLog
	var err error
	prev := 0
	for _, cut := range append(cuts, len(c.wire)) {
		if err = s.Feed([]byte(c.wire[prev:cut]), &log); err != nil {
			break
		}
		prev = cut
	}
	if !errors.Is(err, c.err) {
		t.Fatalf("cuts %v: Feed error %v; want %v", cuts, err, c.err)
	}
	if s.Status != c.status || s.Key != c.key {
		t.Fatalf("cuts %v: Status, Key = %d, %q; want %d, %q", cuts, s.Status, s.Key, c.status, c.key)
	}
	if c.err != nil {
		return
	}
	if !slices.Equal(log.messages, c.messages) || log.control != c.control {
		t.Fatalf("cuts %v: messages %q, control %d; want %q, %d", cuts, log.messages, log.control, c.messages, c.control)
	}
	if s.Live() == c.notLive {
		t.Fatalf("cuts %v: Live() = %v; want %v", cuts, s.Live(), !c.notLive)
	}
	if s.LastID != c.lastID || s.RetryMs != c.retryMs {
		t.Fatalf("cuts %v: LastID, RetryMs = %d, %d; want %d, %d", cuts, s.LastID, s.RetryMs, c.lastID, c.retryMs)
	}
}

// TestStreamSplits feeds every case whole, byte by byte, at every single split point and
// at random multi-splits: framing must not depend on how reads cut the stream.
func TestStreamSplits(t *testing.T) {
	t.Parallel()
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			feed(t, c, nil)
			bytewise := make([]int, 0, len(c.wire))
			for i := 1; i < len(c.wire); i++ {
				bytewise = append(bytewise, i)
				feed(t, c, []int{i})
			}
			feed(t, c, bytewise)
			rng := rand.New(rand.NewPCG(1, uint64(len(c.wire))))
			for range 50 {
				var cuts []int
				for i := 1; i < len(c.wire); i++ {
					if rng.IntN(8) == 0 {
						cuts = append(cuts, i)
					}
				}
				feed(t, c, cuts)
			}
		})
	}
}

// TestStreamIdleHoldsNoBuffer checks that a stream between frames carries nothing: 15,000
// held subscribers must not each pin a buffer.
func TestStreamIdleHoldsNoBuffer(t *testing.T) {
	t.Parallel()
	s := Stream{Format: FormatNDJSON}
	var log frameLog
	wire := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(`{"protocol":2,"data":"pbm:1:1;"}`+"\n")
	for i := 1; i < len(wire); i++ {
		s = Stream{Format: FormatNDJSON}
		log = frameLog{}
		if err := s.Feed([]byte(wire[:i]), &log); err != nil {
			t.Fatal(err)
		}
		if err := s.Feed([]byte(wire[i:]), &log); err != nil {
			t.Fatal(err)
		}
		if s.carry != nil || len(log.messages) != 1 {
			t.Fatalf("split %d: carry cap %d, %d messages; want nil carry, 1 message", i, cap(s.carry), len(log.messages))
		}
	}
}

func TestStreamCarryLimit(t *testing.T) {
	t.Parallel()
	s := Stream{Format: FormatNDJSON}
	var log frameLog
	if err := s.Feed([]byte("HTTP/1.1 200 OK\r\n\r\n"), &log); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxCarry/2)
	for i := range big {
		big[i] = 'a'
	}
	var err error
	for range 3 {
		if err = s.Feed(big, &log); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrCarryLimit) {
		t.Fatalf("Feed of an endless line = %v; want ErrCarryLimit", err)
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatNDJSON, FormatSSE, FormatChunk} {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Fatalf("ParseFormat(%q) = %v, %v; want %v, nil", f.String(), got, err, f)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Fatal("ParseFormat(xml) = nil error; want an error")
	}
}
