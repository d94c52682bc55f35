package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keysOf lists an object's field names, sorted.
func keysOf(m map[string]json.RawMessage) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestPublishAddresses(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	a := n.subscribe("/sub?user=alice&topic=news&topic=sport")
	defer a.close()
	b := n.subscribe("/sub?user=alice&topic=news")
	defer b.close()
	c := n.subscribe("/sub?user=bob")
	defer c.close()
	for _, s := range []*stream{a, b, c} {
		s.packet()
	}

	cases := []struct {
		path      string
		delivered string
		to        string
		receivers []*stream
	}{
		{"conn/" + a.key, "1", "conn:" + a.key, []*stream{a}},
		{"user/alice", "2", "user:alice", []*stream{a, b}},
		{"topic/news", "2", "topic:news", []*stream{a, b}},
		{"topic/sport", "1", "topic:sport", []*stream{a}},
		{"all", "3", "all", []*stream{a, b, c}},
		{"user/bob", "1", "user:bob", []*stream{c}},
	}
	for i, cs := range cases {
		body := fmt.Sprintf("m%d", i)
		res := n.mustPub(200, cs.path, body)
		if got := keysOf(res); got != "delivered,id,nodes,stored" {
			t.Errorf("POST /pub/%s answer fields %s; want delivered,id,nodes,stored", cs.path, got)
		}
		if string(res["delivered"]) != cs.delivered || string(res["nodes"]) != "1" || string(res["stored"]) != "false" {
			t.Errorf("POST /pub/%s = %v; want delivered %s, nodes 1, stored false", cs.path, res, cs.delivered)
		}
		var id string
		if err := json.Unmarshal(res["id"], &id); err != nil || id == "" {
			t.Errorf("POST /pub/%s id %s; want a non-empty string", cs.path, res["id"])
		}
		want := fmt.Sprintf(`{"protocol":2,"time":T,"id":%q,"to":%s,"data":%q}`, id, jsonString(cs.to), body)
		for _, s := range cs.receivers {
			if got := s.packet(); got != want {
				t.Errorf("POST /pub/%s: conn %s got %s; want %s", cs.path, s.key, got, want)
			}
		}
	}
	// Nobody got anything extra: one more push to all arrives next everywhere.
	n.mustPub(200, "all", "last")
	for _, s := range []*stream{a, b, c} {
		if got := s.packet(); !strings.Contains(got, `"data":"last"`) {
			t.Errorf("conn %s: next packet %s; want the last push (an extra message came)", s.key, got)
		}
	}
	// A topic nobody holds is not an error: nothing to deliver.
	if r := n.pub("topic/empty", "x"); r.status != 200 || !strings.Contains(string(r.body), `"delivered":0`) {
		t.Errorf("POST /pub/topic/empty = %d %s; want 200 delivered 0", r.status, r.body)
	}
}

func TestPublishNotFound(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?user=gone")
	key := s.key
	s.close()
	waitFor(t, 10*time.Second, "closed subscriber still counted", func() bool { return n.stats()["connections"] == 0 })
	for _, path := range []string{"conn/" + key, "conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "user/gone", "user/never"} {
		r := n.pub(path, "x")
		if r.status != 404 {
			t.Errorf("POST /pub/%s = %d %s; want 404", path, r.status, r.body)
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
			t.Errorf("POST /pub/%s 404 body %q; want JSON with an error", path, r.body)
		}
	}
}

func TestPublishBadRequests(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-message-bytes", "1KiB")
	s := n.subscribe("/sub?user=u&topic=t")
	defer s.close()
	cases := []struct {
		path string
		body string
		hdr  []string
		want int
	}{
		{"nowhere/x", "x", nil, 400},
		{"conn/short", "x", nil, 400},
		{"conn/", "x", nil, 400},
		{"user/", "x", nil, 400},
		{"topic/", "x", nil, 400},
		{"all/extra", "x", nil, 400},
		{"user/u", "x", []string{"Push-QoS", "2"}, 400},
		{"user/u", "x", []string{"Push-QoS", "yes"}, 400},
		{"user/u", "x", []string{"Push-TTL", "soon"}, 400},
		{"user/u", "x", []string{"Push-TTL", "-5"}, 400},
		{"user/u", strings.Repeat("y", 1025), nil, 413},
		{"topic/t", strings.Repeat("y", 1024), nil, 200},
	}
	for _, c := range cases {
		r := n.pub(c.path, c.body, c.hdr...)
		if r.status != c.want {
			t.Errorf("POST /pub/%s %v (%d bytes) = %d %s; want %d", c.path, c.hdr, len(c.body), r.status, r.body, c.want)
			continue
		}
		if c.want != 200 {
			var e struct{ Error string }
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
				t.Errorf("POST /pub/%s %d body %q; want JSON with an error", c.path, r.status, r.body)
			}
		}
	}
	if r := n.do("GET", "/pub/topic/t", ""); r.status != 405 && r.status != 400 {
		t.Errorf("GET /pub/topic/t = %d; want 405", r.status)
	}
	// Only the 1024-byte push reached the subscriber.
	s.packet()
	if got := s.packet(); !strings.Contains(got, `"to":"topic:t"`) {
		t.Errorf("subscriber got %s; want only the accepted topic push", got)
	}
}

func TestPublishToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--api-token", "s3cret")
	s := n.subscribe("/sub?topic=t")
	defer s.close()
	for _, auth := range []string{"", "Bearer wrong", "Basic czNjcmV0", "Bearer s3cret2", "bearer"} {
		var hdr []string
		if auth != "" {
			hdr = []string{"Authorization", auth}
		}
		if r := n.pub("topic/t", "x", hdr...); r.status != 401 && r.status != 403 {
			t.Errorf("POST /pub/topic/t Authorization %q = %d; want 401", auth, r.status)
		}
		if r := n.do("GET", "/stats", "", hdr...); r.status != 401 && r.status != 403 {
			t.Errorf("GET /stats Authorization %q = %d; want 401", auth, r.status)
		}
	}
	if r := n.pub("topic/t", "ok", "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Fatalf("POST with the token = %d %s; want 200", r.status, r.body)
	}
	s.packet()
	if got := s.packet(); !strings.Contains(got, `"data":"ok"`) {
		t.Errorf("subscriber got %s; want only the authorized push", got)
	}
}

func TestPublishRateLimit(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--publish-rate", "2")
	var codes []int
	got429 := false
	for i := 0; i < 30; i++ {
		r := n.pub("topic/t", "x")
		codes = append(codes, r.status)
		if r.status == 429 {
			got429 = true
			var e struct{ Error string }
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
				t.Errorf("429 body %q; want JSON with an error", r.body)
			}
		} else if r.status != 200 {
			t.Fatalf("publish %d = %d %s; want 200 or 429", i, r.status, r.body)
		}
	}
	if !got429 || codes[0] != 200 {
		t.Fatalf("30 immediate publishes at --publish-rate 2 gave %v; want 200 first, then 429s", codes)
	}
}

// TestQoS1OfflineStoredDeliveredAcked: a QoS 1 push to an offline user is
// stored (202), delivered on reconnect in order, and once acked not resent.
func TestQoS1OfflineStoredDeliveredAcked(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	var ids []string
	for i := 1; i <= 3; i++ {
		r := n.pub("user/offline", fmt.Sprintf(`{"n":%d}`, i), "Push-QoS", "1", "Content-Type", "application/json", "Push-Event", "e")
		if r.status != 202 {
			t.Fatalf("QoS 1 push %d to an offline user = %d %s; want 202", i, r.status, r.body)
		}
		f := r.fields(t)
		if string(f["stored"]) != "true" || string(f["delivered"]) != "0" {
			t.Errorf("QoS 1 answer %s; want stored true, delivered 0", r.body)
		}
		var id string
		json.Unmarshal(f["id"], &id)
		ids = append(ids, id)
	}
	// QoS 0 to the same offline user is still 404.
	if r := n.pub("user/offline", "q0"); r.status != 404 {
		t.Errorf("QoS 0 push to an offline user = %d; want 404", r.status)
	}

	s := n.subscribe("/sub?user=offline")
	s.packet()
	for i, id := range ids {
		want := fmt.Sprintf(`{"protocol":2,"time":T,"id":%q,"to":"user:offline","event":"e","data":{"n":%d}}`, id, i+1)
		if got := s.packet(); got != want {
			t.Fatalf("stored message %d on reconnect = %s; want %s", i+1, got, want)
		}
	}
	// Online now: QoS 1 is delivered (200) and still kept until acked.
	r := n.pub("user/offline", "live", "Push-QoS", "1")
	if r.status != 200 || !strings.Contains(string(r.body), `"stored":true`) {
		t.Fatalf("QoS 1 push to an online user = %d %s; want 200, stored true (kept until acked)", r.status, r.body)
	}
	var liveID string
	json.Unmarshal(r.fields(t)["id"], &liveID)
	if got := s.packet(); !strings.Contains(got, `"id":"`+liveID+`"`) {
		t.Fatalf("live QoS 1 message = %s; want id %s", got, liveID)
	}

	// Ack up to the second stored message: the third and the live one remain.
	ack := fmt.Sprintf("POST /ack?conn=%s&id=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", s.key, ids[1])
	raw, _ := rawExchange(t, n.edge, ack, 2*time.Second)
	if st := statusOf(raw); st/100 != 2 {
		t.Fatalf("POST /ack = %q; want 2xx", raw)
	}
	s.close()
	waitFor(t, 10*time.Second, "closed subscriber still counted", func() bool { return n.stats()["connections"] == 0 })

	s2 := n.subscribe("/sub?user=offline")
	defer s2.close()
	s2.packet()
	if got := s2.packet(); !strings.Contains(got, `"id":"`+ids[2]+`"`) {
		t.Fatalf("after acking %s the first resent message is %s; want id %s", ids[1], got, ids[2])
	}
	if got := s2.packet(); !strings.Contains(got, `"id":"`+liveID+`"`) {
		t.Fatalf("second resent message = %s; want id %s", got, liveID)
	}
	// Ack everything; a third connection gets nothing stored.
	ack = fmt.Sprintf("POST /ack?conn=%s&id=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", s2.key, liveID)
	if raw, _ := rawExchange(t, n.edge, ack, 2*time.Second); statusOf(raw)/100 != 2 {
		t.Fatalf("POST /ack = %q; want 2xx", raw)
	}
	s2.close()
	waitFor(t, 10*time.Second, "closed subscriber still counted", func() bool { return n.stats()["connections"] == 0 })
	s3 := n.subscribe("/sub?user=offline")
	defer s3.close()
	s3.packet()
	n.mustPub(200, "user/offline", "marker")
	if got := s3.packet(); !strings.Contains(got, `"data":"marker"`) {
		t.Fatalf("after acking everything, reconnect got %s; want no resend, only the marker", got)
	}
}

// TestPublishOrderPipelined: 2,000 pushes written back to back on one
// publisher connection reach the subscriber in publish order, and the
// answers come back in request order.
func TestPublishOrderPipelined(t *testing.T) {
	t.Parallel()
	const count = 2000
	n := startNode(t)
	s := n.subscribe("/sub?user=ord")
	defer s.close()
	s.packet()

	c := dial(t, n.api)
	errc := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		for i := 0; i < count; i++ {
			body := strconv.Itoa(i)
			fmt.Fprintf(w, "POST /pub/conn/%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", s.key, len(body), body)
		}
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		errc <- w.Flush()
	}()
	br := bufio.NewReader(c)
	prev := -1
	for i := 0; i < count; i++ {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d = %d %s; want 200", i, resp.StatusCode, b)
		}
		var res struct{ ID string }
		json.Unmarshal(b, &res)
		id, err := strconv.Atoi(res.ID)
		if err == nil {
			if id <= prev {
				t.Fatalf("answer %d id %d after %d; want answers in request order", i, id, prev)
			}
			prev = id
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("pipelined write: %v", err)
	}
	for i := 0; i < count; i++ {
		var p struct {
			Protocol int
			Data     int
		}
		line := s.line()
		if err := json.Unmarshal([]byte(line), &p); err != nil || p.Protocol != 2 {
			t.Fatalf("packet %d = %s; want a message", i, line)
		}
		if p.Data != i {
			t.Fatalf("message %d carries %d; want publish order", i, p.Data)
		}
	}
}

// TestPipelinedAPI writes several requests in one write on the api listener;
// the answers come back in order.
func TestPipelinedAPI(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=p")
	defer s.close()
	s.packet()
	req := ""
	for i := 0; i < 5; i++ {
		req += fmt.Sprintf("POST /pub/topic/p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nm%d", i)
	}
	req += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	req += "POST /pub/user/nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
	req += "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	raw, closed := rawExchange(t, n.api, req, 5*time.Second)
	if !closed {
		t.Errorf("connection not closed after Connection: close")
	}
	br := bufioReader(raw)
	want := []struct {
		status int
		has    string
	}{{200, `"delivered":1`}, {200, `"delivered":1`}, {200, `"delivered":1`}, {200, `"delivered":1`}, {200, `"delivered":1`},
		{200, `"ok"`}, {404, `"error"`}, {200, `"ready"`}}
	for i, w := range want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v (raw %q)", i, err, raw)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != w.status || !strings.Contains(string(b), w.has) {
			t.Errorf("answer %d = %d %s; want %d with %s", i, resp.StatusCode, b, w.status, w.has)
		}
	}
	for i := 0; i < 5; i++ {
		if got := s.packet(); !strings.Contains(got, fmt.Sprintf(`"data":"m%d"`, i)) {
			t.Errorf("message %d = %s; want m%d", i, got, i)
		}
	}
}

// TestSplitBytePublish sends a publish one byte per write.
func TestSplitBytePublish(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=sp")
	defer s.close()
	s.packet()
	c := dial(t, n.api)
	req := "POST /pub/topic/sp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nPush-Event: slow\r\nContent-Length: 13\r\n\r\n{\"s\":\"bytes\"}"
	for i := 0; i < len(req); i++ {
		writeAll(t, c, req[i:i+1])
		time.Sleep(time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("split-byte publish: %v %v", resp, err)
	}
	if got := s.packet(); !strings.Contains(got, `"event":"slow","data":{"s":"bytes"}`) {
		t.Fatalf("message = %s", got)
	}
}

// TestChunkedPublishBody: a publish body sent with chunked transfer coding.
func TestChunkedPublishBody(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=ch")
	defer s.close()
	s.packet()
	raw, _ := rawExchange(t, n.api, "POST /pub/topic/ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 3*time.Second)
	if statusOf(raw) != 200 {
		t.Fatalf("chunked publish = %q; want 200", raw)
	}
	if got := s.packet(); !strings.Contains(got, `"data":"abcde"`) {
		t.Fatalf("message = %s; want data abcde", got)
	}
}

// TestExpectContinue: a publisher that waits for 100 Continue (curl does for
// bodies over 1 KiB) gets it, then its answer.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	c := dial(t, n.api)
	body := strings.Repeat("e", 2048)
	writeAll(t, c, fmt.Sprintf("POST /pub/topic/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body)))
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("after a head with Expect: 100-continue got %q, %v; want HTTP/1.1 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("100 Continue followed by %q; want an empty line", blank)
	}
	writeAll(t, c, body)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer after the body: %v %v; want 200", resp, err)
	}
	// Too large: the final status comes either at once or after the body,
	// never a 200.
	c2 := dial(t, n.api)
	writeAll(t, c2, "POST /pub/topic/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
	out, closed := readUntilQuiet(c2, 2*time.Second)
	if strings.HasPrefix(out, "HTTP/1.1 100 Continue\r\n\r\n") && !closed {
		rest := strings.TrimPrefix(out, "HTTP/1.1 100 Continue\r\n\r\n")
		if rest == "" {
			c2.SetWriteDeadline(time.Now().Add(ioTimeout))
			c2.Write([]byte(strings.Repeat("b", 1000000)))
			rest, _ = readUntilQuiet(c2, 3*time.Second)
		}
		out = rest
	}
	if statusOf(out) != 413 {
		t.Errorf("Expect: 100-continue with a body over --max-message-bytes = %q; want 413", firstLine(out))
	}
}

// TestHTTP10KeepAliveAPI: an HTTP/1.0 publisher's connection closes after
// the answer unless it asked for keep-alive and the answer says
// "Connection: keep-alive" (the HTTP/1.0 keep-alive convention clients such
// as ab -k rely on).
func TestHTTP10KeepAliveAPI(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	out, closed := rawExchange(t, n.api, "GET /healthz HTTP/1.0\r\n\r\n", 3*time.Second)
	if statusOf(out) != 200 || !closed {
		t.Errorf("HTTP/1.0 GET /healthz = %q (closed %v); want 200 and close", firstLine(out), closed)
	}
	out, closed = rawExchange(t, n.api, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", time.Second)
	resp := parseHead(t, out)
	says := strings.EqualFold(resp.Header.Get("Connection"), "keep-alive")
	if !closed && !says {
		t.Errorf("HTTP/1.0 keep-alive request: connection kept open but the answer has no Connection: keep-alive (head %q)", out[:strings.Index(out, "\r\n\r\n")])
	}
	if closed && says {
		t.Errorf("HTTP/1.0 keep-alive request: answer says keep-alive but the connection closed")
	}
}

// TestPushTTLExpires: a stored QoS 1 message whose Push-TTL has passed is not
// delivered.
func TestPushTTLExpires(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	if r := n.pub("user/ttl", "short", "Push-QoS", "1", "Push-TTL", "1"); r.status != 202 {
		t.Fatalf("QoS 1 push with Push-TTL 1 = %d %s; want 202", r.status, r.body)
	}
	if r := n.pub("user/ttl", "long", "Push-QoS", "1", "Push-TTL", "3600"); r.status != 202 {
		t.Fatalf("QoS 1 push with Push-TTL 3600 = %d %s; want 202", r.status, r.body)
	}
	time.Sleep(2500 * time.Millisecond) // past the 1 s TTL
	s := n.subscribe("/sub?user=ttl")
	defer s.close()
	s.packet()
	if got := s.packet(); !strings.Contains(got, `"data":"long"`) {
		t.Errorf("after its TTL the first stored message is %s; want the expired one skipped, \"long\" first", got)
	}
}

// TestMaxMessageBytesDefault: 64 KiB by default, delivered whole in every format.
func TestMaxMessageBytesDefault(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	nd := n.subscribe("/sub?topic=big")
	defer nd.close()
	nd.packet()
	mp := n.subscribe("/sub?topic=big&format=multipart")
	defer mp.close()
	boundary := strings.TrimPrefix(mp.resp.Header.Get("Content-Type"), "multipart/mixed; boundary=")
	mp.part(boundary)
	body := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	if r := n.pub("topic/big", body+"x"); r.status != 413 {
		t.Errorf("64 KiB + 1 push = %d; want 413", r.status)
	}
	n.mustPub(200, "topic/big", body)
	var p struct{ Data string }
	if err := json.Unmarshal([]byte(nd.line()), &p); err != nil || p.Data != body {
		t.Errorf("ndjson 64 KiB message: %v, %d bytes of data; want %d", err, len(p.Data), len(body))
	}
	if got := mp.part(boundary); got.body != body {
		t.Errorf("multipart 64 KiB part body %d bytes; want %d", len(got.body), len(body))
	}
}
