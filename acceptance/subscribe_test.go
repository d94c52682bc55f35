package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkStreamHead requires the stream response headers of SPEC §3.
func checkStreamHead(t *testing.T, s *stream, contentType string) {
	t.Helper()
	h := s.resp.Header
	if s.resp.StatusCode != 200 {
		t.Fatalf("status = %d; want 200", s.resp.StatusCode)
	}
	if got := s.resp.TransferEncoding; len(got) != 1 || got[0] != "chunked" {
		t.Errorf("Transfer-Encoding = %v; want [chunked]", got)
	}
	if got := h.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q; want no-cache", got)
	}
	if got := h.Get("X-Accel-Buffering"); got != "no" {
		t.Errorf("X-Accel-Buffering = %q; want no", got)
	}
	if got := h.Get("Content-Type"); !strings.HasPrefix(got, contentType) {
		t.Errorf("Content-Type = %q; want %s", got, contentType)
	}
	checkConnKey(t, s.key)
}

func TestNDJSONEndToEnd(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--heartbeat", "1s")
	s := n.subscribe("/sub?topic=news&user=u1&format=ndjson")
	defer s.close()
	checkStreamHead(t, s, "application/x-ndjson")

	if got, want := s.packet(), `{"protocol":1,"time":T,"state":"registered","conn":"`+s.key+`"}`; got != want {
		t.Fatalf("registered packet = %s; want %s", got, want)
	}

	cases := []struct {
		path, body string
		hdr        []string
		want       string // with ID for the message id
	}{
		{"topic/news", `{"a":[1,2,{"b":null}]}`, []string{"Content-Type", "application/json", "Push-Event", "score"},
			`{"protocol":2,"time":T,"id":"ID","to":"topic:news","event":"score","data":{"a":[1,2,{"b":null}]}}`},
		{"user/u1", "plain \"text\"\nline two", []string{"Content-Type", "text/plain"},
			`{"protocol":2,"time":T,"id":"ID","to":"user:u1","data":"plain \"text\"\nline two"}`},
		// Valid JSON sent as text/plain stays a string.
		{"conn/" + s.key, `{"x":1}`, []string{"Content-Type", "text/plain"},
			`{"protocol":2,"time":T,"id":"ID","to":"conn:` + s.key + `","data":"{\"x\":1}"}`},
		// Invalid JSON sent as application/json becomes a string.
		{"all", `{"x":`, []string{"Content-Type", "application/json"},
			`{"protocol":2,"time":T,"id":"ID","to":"all","data":"{\"x\":"}`},
		// application/json with parameters still embeds.
		{"topic/news", `[true,"é"]`, []string{"Content-Type", "application/json; charset=utf-8"},
			`{"protocol":2,"time":T,"id":"ID","to":"topic:news","data":[true,"é"]}`},
		// Bytes that are not UTF-8 and control characters are escaped into a valid JSON string.
		{"topic/news", "a\x01b\tc", nil,
			`{"protocol":2,"time":T,"id":"ID","to":"topic:news","data":"a\u0001b\tc"}`},
	}
	for _, c := range cases {
		res := n.mustPub(200, c.path, c.body, c.hdr...)
		id := strings.Trim(string(res["id"]), `"`)
		if string(res["delivered"]) != "1" || string(res["stored"]) != "false" || string(res["nodes"]) != "1" {
			t.Errorf("POST /pub/%s answer %v; want delivered 1, nodes 1, stored false", c.path, res)
		}
		got := s.packet()
		if got == `{"protocol":0,"time":T}` { // a heartbeat may come between
			got = s.packet()
		}
		if want := strings.Replace(c.want, `"id":"ID"`, `"id":"`+id+`"`, 1); got != want {
			t.Errorf("POST /pub/%s %q: packet\n got %s\nwant %s", c.path, c.body, got, want)
		}
	}

	// Idle now: a heartbeat comes.
	if got := s.packet(); got != `{"protocol":0,"time":T}` {
		t.Errorf("idle stream packet = %s; want heartbeat {\"protocol\":0,\"time\":T}", got)
	}
}

// TestNDJSONChunkFraming reads the raw socket: each frame is flushed as its
// own chunk as soon as it is produced.
func TestNDJSONChunkFraming(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.edge)
	writeAll(t, c, "GET /sub?topic=raw HTTP/1.1\r\nHost: x\r\n\r\n")
	head, _ := readUntilQuiet(c, 300*time.Millisecond)
	i := strings.Index(head, "\r\n\r\n")
	if i < 0 {
		t.Fatalf("no response head in %q", head)
	}
	first := head[i+4:]
	reg := regexp.MustCompile(`^([0-9a-f]+)\r\n(\{"protocol":1,[^\n]*\}\n)\r\n$`)
	m := reg.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first bytes after the head = %q; want one chunk holding the registered line", first)
	}
	if want := fmt.Sprintf("%x", len(m[2])); m[1] != want {
		t.Errorf("chunk size %s; want %s for %q", m[1], want, m[2])
	}
	n.mustPub(200, "topic/raw", "hello", "Content-Type", "text/plain")
	got, closed := readUntilQuiet(c, 300*time.Millisecond)
	msg := regexp.MustCompile(`^([0-9a-f]+)\r\n(\{"protocol":2,"time":\d+,"id":"[^"]+","to":"topic:raw","data":"hello"\}\n)\r\n$`)
	m = msg.FindStringSubmatch(got)
	if m == nil || closed {
		t.Fatalf("after a publish the socket got %q (closed %v); want one chunk with the message line", got, closed)
	}
	if want := fmt.Sprintf("%x", len(m[2])); m[1] != want {
		t.Errorf("chunk size %s; want %s", m[1], want)
	}
}

func TestSSEEndToEnd(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--heartbeat", "1s", "--retry", "3s")
	s := n.subscribe("/sub?topic=news&format=sse")
	defer s.close()
	checkStreamHead(t, s, "text/event-stream")

	if got := s.sseEvent(); len(got) != 1 || got[0] != "retry: 3000" {
		t.Fatalf("first SSE block = %q; want [retry: 3000]", got)
	}
	reg := s.sseEvent()
	want := `{"protocol":1,"time":T,"state":"registered","conn":"` + s.key + `"}`
	if len(reg) != 2 || reg[0] != "event: registered" || !strings.HasPrefix(reg[1], "data: ") ||
		normTime(t, strings.TrimPrefix(reg[1], "data: ")) != want {
		t.Fatalf("registered event = %q; want [event: registered, data: %s]", reg, want)
	}

	res := n.mustPub(200, "topic/news", `{"k":"v"}`, "Content-Type", "application/json", "Push-Event", "update")
	id := strings.Trim(string(res["id"]), `"`)
	ev := nextNonHeartbeat(s)
	if w := []string{"id: " + id, "event: update", `data: {"k":"v"}`}; fmt.Sprint(ev) != fmt.Sprint(w) {
		t.Errorf("SSE message = %q; want %q", ev, w)
	}

	res = n.mustPub(200, "topic/news", "one\ntwo\n\nfour", "Content-Type", "text/plain")
	id = strings.Trim(string(res["id"]), `"`)
	ev = nextNonHeartbeat(s)
	if w := []string{"id: " + id, "event: message", "data: one", "data: two", "data: ", "data: four"}; fmt.Sprint(ev) != fmt.Sprint(w) {
		t.Errorf("SSE multi-line message = %q; want %q", ev, w)
	}

	hb := s.sseEvent()
	if len(hb) != 1 || !strings.HasPrefix(hb[0], ": hb ") {
		t.Fatalf("idle SSE block = %q; want one comment line \": hb <unix ms>\"", hb)
	}
	checkUnixMs(t, strings.TrimPrefix(hb[0], ": hb "))
}

// nextNonHeartbeat reads SSE blocks until one is not a heartbeat comment.
func nextNonHeartbeat(s *stream) []string {
	s.t.Helper()
	for {
		ev := s.sseEvent()
		if len(ev) == 1 && strings.HasPrefix(ev[0], ": hb ") {
			continue
		}
		return ev
	}
}

func TestMultipartEndToEnd(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--heartbeat", "1s")
	s := n.subscribe("/sub?topic=news&format=multipart")
	defer s.close()
	checkStreamHead(t, s, "multipart/mixed; boundary=")
	ct := s.resp.Header.Get("Content-Type")
	boundary := strings.TrimPrefix(ct, "multipart/mixed; boundary=")
	if boundary == "" || strings.ContainsAny(boundary, " \r\n\";") {
		t.Fatalf("Content-Type %q: want a plain boundary", ct)
	}

	p := s.part(boundary)
	if p.header["Content-Type"] != "application/json" || p.header["Push-Id"] == "" {
		t.Errorf("registered part headers = %v; want Content-Type application/json and a Push-Id", p.header)
	}
	if got, want := normTime(t, p.body), `{"protocol":1,"time":T,"state":"registered","conn":"`+s.key+`"}`; got != want {
		t.Errorf("registered part body = %s; want %s", got, want)
	}

	res := n.mustPub(200, "topic/news", `{"n":1}`, "Content-Type", "application/json", "Push-Event", "tick")
	id := strings.Trim(string(res["id"]), `"`)
	p = nextPart(s, boundary)
	if p.header["Content-Type"] != "application/json" || p.header["Push-Id"] != id || p.body != `{"n":1}` {
		t.Errorf("message part = %+v; want Content-Type application/json, Push-Id %s, body {\"n\":1}", p, id)
	}
	if got := p.header["Push-Event"]; got != "tick" {
		t.Errorf("message part Push-Event = %q; want tick", got)
	}

	res = n.mustPub(200, "topic/news", "<b>hi</b>\nthere", "Content-Type", "text/html")
	id = strings.Trim(string(res["id"]), `"`)
	p = nextPart(s, boundary)
	if p.header["Content-Type"] != "text/html" || p.header["Push-Id"] != id || p.body != "<b>hi</b>\nthere" {
		t.Errorf("message part = %+v; want Content-Type text/html (kept), Push-Id %s, the body as sent", p, id)
	}

	p = s.part(boundary)
	if got := normTime(t, p.body); got != `{"protocol":0,"time":T}` {
		t.Errorf("idle part body = %s; want heartbeat packet", got)
	}
}

// nextPart reads parts until one is not a heartbeat.
func nextPart(s *stream, boundary string) part {
	s.t.Helper()
	for {
		p := s.part(boundary)
		if strings.HasPrefix(p.body, `{"protocol":0,`) {
			continue
		}
		return p
	}
}

func TestFormatChosenByAccept(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	cases := []struct {
		target, accept, want string
	}{
		{"/sub?topic=a", "text/event-stream", "text/event-stream"},
		{"/sub?topic=a", "multipart/mixed", "multipart/mixed; boundary="},
		{"/sub?topic=a", "application/json", "application/x-ndjson"},
		{"/sub?topic=a", "", "application/x-ndjson"},
		{"/sub?topic=a&format=ndjson", "text/event-stream", "application/x-ndjson"},
		{"/sub?topic=a&format=sse", "multipart/mixed", "text/event-stream"},
	}
	for _, c := range cases {
		var s *stream
		if c.accept == "" {
			s = n.subscribe(c.target)
		} else {
			s = n.subscribe(c.target, "Accept", c.accept)
		}
		if got := s.resp.Header.Get("Content-Type"); !strings.HasPrefix(got, c.want) {
			t.Errorf("GET %s Accept %q: Content-Type %q; want %s", c.target, c.accept, got, c.want)
		}
		s.close()
	}
	s := n.subscribeAny("/sub?topic=a&format=xml")
	if s.resp.StatusCode != 400 {
		t.Errorf("GET /sub?format=xml = %d; want 400", s.resp.StatusCode)
	}
}

func TestConnKeysUnique(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s := n.subscribe("/sub?topic=k")
		checkConnKey(t, s.key)
		if seen[s.key] {
			t.Fatalf("conn key %s given twice", s.key)
		}
		seen[s.key] = true
		s.close()
	}
}

// TestHTTP10CloseDelimited: an HTTP/1.0 subscriber gets the stream without
// chunking, ended by the close.
func TestHTTP10CloseDelimited(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.edge)
	writeAll(t, c, "GET /sub?topic=old&format=ndjson HTTP/1.0\r\n\r\n")
	head, _ := readUntilQuiet(c, 300*time.Millisecond)
	i := strings.Index(head, "\r\n\r\n")
	if i < 0 {
		t.Fatalf("no response head in %q", head)
	}
	hdr, body := head[:i], head[i+4:]
	if !strings.HasPrefix(hdr, "HTTP/1.") || statusOf(hdr) != 200 {
		t.Fatalf("HTTP/1.0 subscribe status line in %q; want 200", hdr)
	}
	lower := strings.ToLower(hdr)
	if strings.Contains(lower, "transfer-encoding") || strings.Contains(lower, "content-length") {
		t.Errorf("HTTP/1.0 stream head %q; want neither Transfer-Encoding nor Content-Length", hdr)
	}
	key := regexp.MustCompile(`(?i)\r\npush-conn: (\S+)`).FindStringSubmatch(hdr)
	if key == nil {
		t.Fatalf("no Push-Conn in %q", hdr)
	}
	if got, want := normTime(t, body), `{"protocol":1,"time":T,"state":"registered","conn":"`+key[1]+`"}`+"\n"; got != want {
		t.Fatalf("HTTP/1.0 body = %q; want raw line %q", got, want)
	}
	n.mustPub(200, "topic/old", `"x"`, "Content-Type", "application/json")
	got, _ := readUntilQuiet(c, 300*time.Millisecond)
	if !regexp.MustCompile(`^\{"protocol":2,"time":\d+,"id":"[^"]+","to":"topic:old","data":"x"\}\n$`).MatchString(got) {
		t.Fatalf("HTTP/1.0 message bytes = %q; want one raw ndjson line", got)
	}
	if r := n.do("DELETE", "/conn/"+key[1], ""); r.status/100 != 2 {
		t.Fatalf("DELETE /conn/%s = %d %s", key[1], r.status, r.body)
	}
	rest, closed := readUntilQuiet(c, 5*time.Second)
	if !closed {
		t.Fatalf("HTTP/1.0 stream not closed after kick; got %q", rest)
	}
	if strings.Contains(rest, "0\r\n\r\n") {
		t.Errorf("HTTP/1.0 stream ended with a last-chunk %q", rest)
	}
}

// TestSplitByteSubscribe sends the subscribe request one byte per write.
func TestSplitByteSubscribe(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.edge)
	req := "GET /sub?topic=split&user=s_p%2Dq&format=ndjson HTTP/1.1\r\nHost: example\r\nAccept: */*\r\nUser-Agent: byte-by-byte\r\n\r\n"
	for i := 0; i < len(req); i++ {
		writeAll(t, c, req[i:i+1])
		time.Sleep(time.Millisecond)
	}
	s := readStreamHead(t, c, "split subscribe")
	if s.resp.StatusCode != 200 {
		t.Fatalf("split-byte subscribe = %d; want 200", s.resp.StatusCode)
	}
	if got := s.packet(); got != `{"protocol":1,"time":T,"state":"registered","conn":"`+s.key+`"}` {
		t.Fatalf("registered = %s", got)
	}
	n.mustPub(200, "user/s_p-q", "hi")
	if got := s.packet(); !strings.Contains(got, `"to":"user:s_p-q","data":"hi"`) {
		t.Fatalf("message = %s; want to user:s_p-q, data hi", got)
	}
}

// TestStreamingRequestIsLast: bytes sent after a subscribe on the same
// connection are never parsed as requests; past 4 KiB the connection closes.
func TestStreamingRequestIsLast(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.edge)
	writeAll(t, c, "GET /sub?topic=last HTTP/1.1\r\nHost: x\r\n\r\nGET /sub?topic=second HTTP/1.1\r\nHost: x\r\n\r\n")
	s := readStreamHead(t, c, "subscribe")
	if s.resp.StatusCode != 200 {
		t.Fatalf("status %d", s.resp.StatusCode)
	}
	s.packet()
	writeAll(t, c, "POST /ack?conn=x&id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	n.mustPub(200, "topic/last", "m")
	if got := s.packet(); !strings.Contains(got, `"to":"topic:last","data":"m"`) {
		t.Fatalf("next packet = %s; want the message (later bytes must not be answered)", got)
	}
	if st := n.stats(); st["connections"] != 1 {
		t.Errorf("/stats connections = %v; want 1 (the second request must not subscribe)", st["connections"])
	}
	if r := n.pub("topic/second", "x"); r.status == 200 && strings.Contains(string(r.body), `"delivered":1`) {
		t.Errorf("publish to topic:second delivered %s; the pipelined second subscribe was parsed", r.body)
	}
	// Past 4 KiB of unread client bytes the connection is closed.
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	c.Write([]byte(strings.Repeat("x", 8<<10)))
	s.expectClosed(5 * time.Second)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	t.Run("default star", func(t *testing.T) {
		t.Parallel()
		n := startNode(t)
		raw, _ := rawExchange(t, n.edge, "OPTIONS /sub?topic=a HTTP/1.1\r\nHost: x\r\nOrigin: http://page.example\r\n"+
			"Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n\r\n", 300*time.Millisecond)
		resp := parseHead(t, raw)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("preflight = %d; want 2xx", resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("preflight Allow-Origin = %q; want *", got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "GET") {
			t.Errorf("preflight Allow-Methods = %q; want GET in it", got)
		}
		if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "last-event-id") {
			t.Errorf("preflight Allow-Headers = %q; want last-event-id in it", got)
		}
		s := n.subscribe("/sub?topic=a", "Origin", "http://page.example")
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("stream Allow-Origin = %q; want *", got)
		}
		if got := s.resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("stream Allow-Credentials = %q with *; want none", got)
		}
	})
	t.Run("list", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, "--allowed-origins", "http://a.example,https://b.example:8443", "--poll-timeout", "200ms")
		for _, origin := range []string{"http://a.example", "https://b.example:8443"} {
			s := n.subscribe("/sub?topic=a", "Origin", origin)
			if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Origin %s: stream Allow-Origin = %q; want it echoed", origin, got)
			}
			if got := s.resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("Origin %s: Allow-Credentials = %q; want true", origin, got)
			}
			s.close()
			p := n.subscribeAny("/sub?topic=a&format=poll", "Origin", origin)
			if got := p.resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Origin %s: long-poll Allow-Origin = %q; want it echoed", origin, got)
			}
			p.close()
			raw, _ := rawExchange(t, n.edge, "OPTIONS /sub HTTP/1.1\r\nHost: x\r\nOrigin: "+origin+
				"\r\nAccess-Control-Request-Method: GET\r\n\r\n", 300*time.Millisecond)
			resp := parseHead(t, raw)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode/100 != 2 || got != origin {
				t.Errorf("Origin %s: preflight %d Allow-Origin %q; want 2xx and the origin", origin, resp.StatusCode, got)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("Origin %s: preflight Allow-Credentials = %q; want true", origin, got)
			}
		}
		s := n.subscribeAny("/sub?topic=a", "Origin", "http://evil.example")
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("disallowed origin: Allow-Origin = %q; want none", got)
		}
	})
}

// parseHead parses the first response head in raw.
func parseHead(t *testing.T, raw string) *http.Response {
	t.Helper()
	i := strings.Index(raw, "\r\n\r\n")
	if i < 0 {
		t.Fatalf("no response head in %q", raw)
	}
	resp, err := http.ReadResponse(bufioReader(raw[:i+4]), nil)
	if err != nil {
		t.Fatalf("parse response head %q: %v", raw[:i+4], err)
	}
	return resp
}

// TestNDJSONLinesAreValidJSON: whatever the payload, each ndjson packet is one
// line of valid UTF-8 JSON, and data decodes to what was published.
func TestNDJSONLinesAreValidJSON(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=j")
	defer s.close()
	s.packet()
	cases := []struct {
		name, ctype, body string
		want              any // decoded data
	}{
		{"pretty JSON", "application/json", "{\n  \"a\": 1,\n  \"b\": [1,\n 2]\n}\n", map[string]any{"a": 1.0, "b": []any{1.0, 2.0}}},
		{"JSON with CRLF", "application/json", "[\r\n1\r\n]", []any{1.0}},
		{"JSON with surrounding spaces", "application/json", "  \"s\"  ", "s"},
		{"JSON string with U+2028", "application/json", "\"a\u2028b\"", "a\u2028b"},
		{"text with CR LF", "text/plain", "a\r\nb\rc\n", "a\r\nb\rc\n"},
		{"text not UTF-8", "text/plain", "a\xff\xfeb", nil},
		{"JSON string not UTF-8", "application/json", "\"a\xffb\"", nil},
	}
	for _, c := range cases {
		n.mustPub(200, "topic/j", c.body, "Content-Type", c.ctype)
		n.mustPub(200, "topic/j", "marker", "Content-Type", "text/plain")
		line := s.line()
		var p struct {
			Protocol int
			Data     any
		}
		if !utf8.ValidString(line) {
			t.Errorf("%s: packet %q is not valid UTF-8", c.name, line)
		} else if err := json.Unmarshal([]byte(line), &p); err != nil || p.Protocol != 2 {
			t.Errorf("%s: packet line %q is not a JSON message (%v)", c.name, line, err)
		} else if c.want != nil && !reflect.DeepEqual(p.Data, c.want) {
			t.Errorf("%s: data decodes to %#v; want %#v", c.name, p.Data, c.want)
		}
		// Resynchronise on the marker whatever happened.
		for i := 0; ; i++ {
			if strings.Contains(line, `"data":"marker"`) {
				break
			}
			if i > 0 {
				t.Errorf("%s: extra line %q; the packet spilled over more than one line", c.name, line)
			}
			line = s.line()
		}
	}
}

// TestTopicHistoryReplay: with --topic-history N, a subscriber reconnecting
// with since= or Last-Event-ID gets the newer of the last N messages.
func TestTopicHistoryReplay(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--topic-history", "3")
	var ids []string
	for i := 1; i <= 5; i++ {
		res := n.mustPub(200, "topic/h", fmt.Sprintf("m%d", i))
		var id string
		json.Unmarshal(res["id"], &id)
		ids = append(ids, id)
	}
	s := n.subscribe("/sub?topic=h&since=" + ids[2])
	s.packet()
	for _, i := range []int{3, 4} {
		if got := s.packet(); got != fmt.Sprintf(`{"protocol":2,"time":T,"id":"%s","to":"topic:h","data":"m%d"}`, ids[i], i+1) {
			t.Errorf("since=%s replay: got %s; want m%d", ids[2], got, i+1)
		}
	}
	s.close()

	sse := n.subscribe("/sub?topic=h&format=sse", "Last-Event-ID", ids[3])
	sse.sseEvent()
	sse.sseEvent()
	if got := sse.sseEvent(); fmt.Sprint(got) != fmt.Sprint([]string{"id: " + ids[4], "event: message", "data: m5"}) {
		t.Errorf("Last-Event-ID %s replay: got %q; want m5", ids[3], got)
	}
	sse.close()

	// Older than what is kept: the gap frame (TestGapSignal), then the last 3 only.
	old := n.subscribe("/sub?topic=h&since=" + ids[0])
	old.packet()
	if got := old.packet(); !strings.Contains(got, `"cmd":"gap"`) {
		t.Errorf("since=%s with history 3: got %s; want the gap frame first", ids[0], got)
	}
	for _, i := range []int{2, 3, 4} {
		if got := old.packet(); !strings.Contains(got, fmt.Sprintf(`"data":"m%d"`, i+1)) {
			t.Errorf("since=%s with history 3: got %s; want m%d", ids[0], got, i+1)
		}
	}
	old.close()

	// Without since, no replay.
	fresh := n.subscribe("/sub?topic=h")
	fresh.packet()
	n.mustPub(200, "topic/h", "live")
	if got := fresh.packet(); !strings.Contains(got, `"data":"live"`) {
		t.Errorf("subscribe without since got %s; want no replay, only the live message", got)
	}
}

// TestSSELastEventIDAcks: an SSE reconnect with Last-Event-ID acknowledges
// the stored QoS 1 messages up to it.
func TestSSELastEventIDAcks(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	var ids []string
	for i := 1; i <= 3; i++ {
		r := n.pub("user/es", fmt.Sprintf("q%d", i), "Push-QoS", "1")
		if r.status != 202 {
			t.Fatalf("QoS 1 push = %d %s; want 202", r.status, r.body)
		}
		var id string
		json.Unmarshal(r.fields(t)["id"], &id)
		ids = append(ids, id)
	}
	s := n.subscribe("/sub?user=es&format=sse")
	s.sseEvent()
	s.sseEvent()
	for i := range ids {
		if got := s.sseEvent(); len(got) != 3 || got[0] != "id: "+ids[i] {
			t.Fatalf("stored message %d = %q; want id %s", i, got, ids[i])
		}
	}
	s.close()
	waitFor(t, 10*time.Second, "closed subscriber still counted", func() bool { return n.stats()["connections"] == 0 })
	s2 := n.subscribe("/sub?user=es&format=sse", "Last-Event-ID", ids[1])
	defer s2.close()
	s2.sseEvent()
	s2.sseEvent()
	if got := s2.sseEvent(); len(got) != 3 || got[0] != "id: "+ids[2] || got[2] != "data: q3" {
		t.Fatalf("after Last-Event-ID %s the first message = %q; want only id %s (q3)", ids[1], got, ids[2])
	}
}

// TestEdgePipelining: several requests in one write on the edge are answered
// in order, the last one being a stream.
func TestEdgePipelining(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.edge)
	writeAll(t, c, "POST /ack?conn=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"+
		"OPTIONS /sub HTTP/1.1\r\nHost: x\r\nOrigin: http://o.example\r\nAccess-Control-Request-Method: GET\r\n\r\n"+
		"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /sub?topic=pl HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	var codes []int
	for i := 0; i < 3; i++ {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		codes = append(codes, resp.StatusCode)
	}
	if codes[0]/100 != 4 || codes[1]/100 != 2 || codes[2] != 404 {
		t.Errorf("pipelined ack, preflight, unknown path = %v; want [4xx 2xx 404]", codes)
	}
	s := &stream{t: t, conn: c, raw: br}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pipelined subscribe: %v %v", resp, err)
	}
	s.resp, s.body, s.key = resp, bufio.NewReader(resp.Body), resp.Header.Get("Push-Conn")
	s.packet()
	n.mustPub(200, "topic/pl", "ok")
	if got := s.packet(); !strings.Contains(got, `"data":"ok"`) {
		t.Fatalf("pipelined stream got %s", got)
	}
}

func TestSubscribeBadRequests(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	many := strings.Repeat("topic=t&", 65)
	cases := []struct {
		req  string
		want int
	}{
		{"GET /sub?user=" + strings.Repeat("u", 257) + " HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /sub?topic= HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /sub?topic=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /sub?topic=a%20b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /sub?" + many + " HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"POST /sub?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
		{"GET /subscribe HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /ack?conn=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&id=1 HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"POST /ack?conn=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404},
	}
	for _, c := range cases {
		out, _ := rawExchange(t, n.edge, strings.Replace(c.req, "Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1), 3*time.Second)
		if got := statusOf(out); got != c.want {
			t.Errorf("%.60q = %q; want %d", c.req, firstLine(out), c.want)
		}
	}
	// A subscriber may also hold no topic and no user: it gets conn and all pushes.
	s := n.subscribe("/sub")
	defer s.close()
	s.packet()
	n.mustPub(200, "all", "everyone")
	if got := s.packet(); !strings.Contains(got, `"to":"all","data":"everyone"`) {
		t.Errorf("bare subscriber got %s; want the push to all", got)
	}
	// An ack of a bad id on a live connection.
	out, _ := rawExchange(t, n.edge, "POST /ack?conn="+s.key+"&id=nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 500*time.Millisecond)
	if got := statusOf(out); got != 400 {
		t.Errorf("POST /ack with id=nope = %q; want 400", firstLine(out))
	}
}
