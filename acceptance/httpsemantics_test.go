package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SPEC §7 (HTTP semantics as RFC 9110/9112 say) and §9 (probes without the
// api token): HEAD answers, the empty line before a request line,
// absolute-form schemes, and multipart bodies that hold the boundary.

// exchanged is one answer read off a pipelined connection.
type exchanged struct {
	req  string // the request's first line
	resp *http.Response
	body string
}

// pipeline writes reqs in one write on a fresh connection to addr and reads
// one answer per request, in order, each framed as its method says: a HEAD
// answer has no body whatever its head says (RFC 9112 §6.3), so a server
// that sent one desynchronizes the next answer and the test fails there.
// When the last request closes the connection, the server must close it
// right after that answer, with no byte more.
func pipeline(t *testing.T, addr string, reqs ...string) []exchanged {
	t.Helper()
	c := dial(t, addr)
	writeAll(t, c, strings.Join(reqs, ""))
	br := bufio.NewReader(c)
	out := make([]exchanged, 0, len(reqs))
	for _, raw := range reqs {
		line, _, _ := strings.Cut(strings.TrimPrefix(raw, "\r\n"), "\r\n")
		method, _, _ := strings.Cut(line, " ")
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("answer %d (to %q) of %q: %v", len(out), line, reqs, err)
		}
		var b []byte
		if resp.ContentLength != -1 || method == "HEAD" { // a stream's body never ends
			if b, err = io.ReadAll(resp.Body); err != nil {
				t.Fatalf("answer to %q: body: %v", line, err)
			}
		}
		out = append(out, exchanged{line, resp, string(b)})
	}
	if last := reqs[len(reqs)-1]; strings.Contains(last, "Connection: close") || strings.Contains(last, "HTTP/1.0\r\n") {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		rest, err := io.ReadAll(br)
		if err != nil || len(rest) != 0 {
			t.Fatalf("after the last answer: %q, %v; want the connection closed with nothing more", rest, err)
		}
	}
	return out
}

// headRequest is "HEAD target HTTP/1.1" with a Host and the header name,
// value pairs in hdr.
func headRequest(target string, hdr ...string) string {
	var b strings.Builder
	b.WriteString("HEAD " + target + " HTTP/1.1\r\nHost: x\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		b.WriteString(hdr[i] + ": " + hdr[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestHEADOnTheAPIListener(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=t")
	defer s.close()
	paths := []string{"/healthz", "/readyz", "/stats", "/metrics", "/conn/" + s.key, "/debug/pprof/", "/nope", "/pub/topic/t", "/conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	var reqs []string
	for _, p := range paths {
		reqs = append(reqs, "HEAD "+p+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	reqs = append(reqs, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	got := pipeline(t, n.api, reqs...)
	for i, p := range paths {
		head, get := got[2*i], got[2*i+1]
		if head.body != "" {
			t.Errorf("%s: body %q; want none", head.req, head.body)
		}
		if head.resp.StatusCode != get.resp.StatusCode || head.resp.Header.Get("Content-Type") != get.resp.Header.Get("Content-Type") {
			t.Errorf("HEAD %s = %d %q; want the GET's %d %q", p, head.resp.StatusCode, head.resp.Header.Get("Content-Type"),
				get.resp.StatusCode, get.resp.Header.Get("Content-Type"))
		}
		cl := head.resp.Header.Get("Content-Length")
		if cl == "" {
			t.Errorf("HEAD %s: no Content-Length; want the GET's", p)
		}
		// /stats, /metrics and the pprof index count or list as they go, so
		// their length may move between the two requests; the rest may not.
		if p != "/stats" && p != "/metrics" && p != "/debug/pprof/" && cl != strconv.Itoa(len(get.body)) {
			t.Errorf("HEAD %s: Content-Length %s; the GET's body has %d bytes", p, cl, len(get.body))
		}
	}
	want := map[string]int{"/healthz": 200, "/readyz": 200, "/stats": 200, "/conn/" + s.key: 200, "/nope": 404, "/pub/topic/t": 405}
	for i, p := range paths {
		if w, ok := want[p]; ok && got[2*i].resp.StatusCode != w {
			t.Errorf("HEAD %s = %d; want %d", p, got[2*i].resp.StatusCode, w)
		}
	}
	if last := got[len(got)-1]; last.resp.StatusCode != 200 || !last.resp.Close {
		t.Errorf("HEAD /healthz with Connection: close = %d %v; want 200 and Connection: close", last.resp.StatusCode, last.resp.Header)
	}
}

// TestHEADWithNetHTTPClient: Go's client reuses its connection after a HEAD
// and reads the next answer whole, on both listeners.
func TestHEADWithNetHTTPClient(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, u := range []string{"http://" + n.api + "/healthz", "http://" + n.api + "/stats", "http://" + n.edge + "/sub?topic=a", "http://" + n.edge + "/sub?format=poll&topic=a", "http://" + n.edge + "/nope"} {
		client := &http.Client{Timeout: ioTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		defer client.CloseIdleConnections()
		reused := 0
		for i, method := range []string{"HEAD", "HEAD", "GET", "HEAD"} {
			if method == "GET" && strings.Contains(u, "/sub") {
				continue // a stream would hold the connection
			}
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s (request %d on the connection): %v", method, u, i+1, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s %s: body: %v", method, u, err)
			}
			if method == "GET" && (resp.StatusCode != 200 && resp.StatusCode != 404 || len(b) == 0 || strconv.Itoa(len(b)) != resp.Header.Get("Content-Length")) {
				t.Errorf("GET %s after HEADs = %d, %d bytes %q (Content-Length %s); want the whole answer", u, resp.StatusCode, len(b), b, resp.Header.Get("Content-Length"))
			}
		}
		want := 3 // HEAD, HEAD, GET, HEAD: all but the first reuse the connection
		if strings.Contains(u, "/sub") {
			want = 2 // no GET
		}
		if reused != want {
			t.Errorf("%s: %d requests reused the connection; want %d, every one after the first", u, reused, want)
		}
	}
}

// TestHEADOnSubscribe: HEAD /sub answers the stream's head (or the
// long-poll's) and starts nothing: no key, no registration, no delivery, and
// the connection serves the next request; HTTP/1.0 streams are
// close-delimited, so there the head says close and the connection closes.
func TestHEADOnSubscribe(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	got := pipeline(t, n.edge,
		headRequest("/sub?topic=a"),
		headRequest("/sub?topic=a&format=sse"),
		headRequest("/sub?topic=a", "Accept", "multipart/mixed"),
		headRequest("/sub?topic=a&format=poll"),
		headRequest("/sub?topic=a&format=bogus"),
		headRequest("/nope"),
		headRequest("/ack?conn=x&id=1"),
		"GET /sub?topic=a HTTP/1.1\r\nHost: x\r\n\r\n",
	)
	wantType := []string{"application/x-ndjson", "text/event-stream; charset=utf-8", "multipart/mixed; boundary=", "application/json"}
	for i, w := range wantType {
		e := got[i]
		if e.resp.StatusCode != 200 || !strings.HasPrefix(e.resp.Header.Get("Content-Type"), w) || e.body != "" {
			t.Errorf("%s = %d %q body %q; want 200 %q and no body", e.req, e.resp.StatusCode, e.resp.Header.Get("Content-Type"), e.body, w)
		}
		if k := e.resp.Header.Get("Push-Conn"); k != "" {
			t.Errorf("%s: Push-Conn %q; a HEAD starts no stream, so it has no key", e.req, k)
		}
		stream := i < 3
		if chunked := len(e.resp.TransferEncoding) == 1 && e.resp.TransferEncoding[0] == "chunked"; chunked != stream {
			t.Errorf("%s: Transfer-Encoding %v; want chunked %v (as its GET)", e.req, e.resp.TransferEncoding, stream)
		}
		if e.resp.Header.Get("Cache-Control") != "no-cache" || e.resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: head %v; want the GET's Cache-Control and CORS fields", e.req, e.resp.Header)
		}
	}
	for i, w := range []int{400, 404, 405} {
		if e := got[4+i]; e.resp.StatusCode != w || e.body != "" {
			t.Errorf("%s = %d body %q; want %d and no body", e.req, e.resp.StatusCode, e.body, w)
		}
	}
	stream := got[len(got)-1]
	if stream.resp.StatusCode != 200 || stream.resp.Header.Get("Push-Conn") == "" {
		t.Fatalf("GET /sub after the HEADs = %d %v; want a stream", stream.resp.StatusCode, stream.resp.Header)
	}
	// Only the GET registered: one connection, one delivery.
	if st := n.stats(); st["connections"] != 1 {
		t.Errorf("/stats connections = %v after 4 HEAD /sub and 1 GET; want 1", st["connections"])
	}
	res := n.mustPub(200, "topic/a", "x")
	if string(res["delivered"]) != "1" {
		t.Errorf("publish to topic:a delivered %s; want 1 (HEADs hold no stream)", res["delivered"])
	}

	for _, tc := range []struct{ req, why string }{
		{"HEAD /sub?topic=a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "an HTTP/1.0 stream is close-delimited"},
		{"HEAD /sub?topic=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "the request said close"},
	} {
		out := pipeline(t, n.edge, tc.req)
		if e := out[0]; e.resp.StatusCode != 200 || !e.resp.Close {
			t.Errorf("%q = %d %v; want 200 with Connection: close (%s)", tc.req, e.resp.StatusCode, e.resp.Header, tc.why)
		}
	}
}

// TestHEADOnSubscribeWithAuth: a HEAD /sub goes through auth like its GET.
func TestHEADOnSubscribeWithAuth(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--jwt-secret", jwtSecret)
	token := signToken(t, jwtSecret, validClaims("u1", "news"))
	got := pipeline(t, n.edge,
		"HEAD /sub?topic=news HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /sub?topic=news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n\r\n",
		"HEAD /sub?topic=other HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n\r\n",
		"GET /sub?topic=news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n\r\n",
	)
	if e := got[3]; e.resp.StatusCode != 200 || e.resp.Header.Get("Push-Conn") == "" {
		t.Errorf("GET /sub with the token after the HEADs = %d %v; want a stream", e.resp.StatusCode, e.resp.Header)
	}
	for i, w := range []int{401, 200, 403} {
		if e := got[i]; e.resp.StatusCode != w || e.body != "" || e.resp.Header.Get("Push-Conn") != "" {
			t.Errorf("%s (token %v) = %d body %q Push-Conn %q; want %d, no body, no key", e.req, i > 0, e.resp.StatusCode, e.body, e.resp.Header.Get("Push-Conn"), w)
		}
	}
	if e := got[0]; e.resp.Header.Get("WWW-Authenticate") != "Bearer" || e.resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD without a token: head %v; want the GET's WWW-Authenticate and Content-Length", e.resp.Header)
	}
}

// TestEmptyLineBeforeRequest: one CRLF before a request line is skipped on
// both listeners (clients that pad a POST body with one exist); two are a
// 400 and a close, and nothing after them is served.
func TestEmptyLineBeforeRequest(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=t")
	defer s.close()
	s.packet()
	post := func(body string) string {
		return "POST /pub/topic/t HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	// Each request after one CRLF: the first on its connection, then two
	// after the CRLF that padded the body before them.
	got := pipeline(t, n.api, "\r\n"+post("one")+"\r\n", post("two")+"\r\n", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	for _, e := range got {
		if e.resp.StatusCode != 200 {
			t.Errorf("%s after a CRLF = %d %s; want 200", e.req, e.resp.StatusCode, e.body)
		}
	}
	for _, want := range []string{"one", "two"} {
		if p := s.packet(); !strings.Contains(p, `"data":"`+want+`"`) {
			t.Errorf("subscriber got %s; want the push %q", p, want)
		}
	}

	out, closed := rawExchange(t, n.api, post("three")+"\r\n\r\n"+post("four"), 3*time.Second)
	if k := strings.Count(out, "HTTP/1.1 "); k != 2 || statusOf(out) != 200 || !strings.Contains(out, "HTTP/1.1 400 ") || !closed {
		t.Errorf("POST, two CRLFs, POST: %q (closed %v); want 200, then 400 and close", out, closed)
	}
	if p := s.packet(); !strings.Contains(p, `"data":"three"`) {
		t.Errorf("subscriber got %s; want the first push only", p)
	}
	for _, lead := range []string{"\n", "\r\r\n", "\r\n\n"} {
		out, closed := rawExchange(t, n.api, lead+"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
		if statusOf(out) != 400 || !closed {
			t.Errorf("%q before a request line: %q (closed %v); want 400 and close (only CRLF is an empty line)", lead, firstLine(out), closed)
		}
	}

	c := dial(t, n.edge)
	writeAll(t, c, "\r\nGET /sub?topic=t HTTP/1.1\r\nHost: x\r\n\r\n")
	st := readStreamHead(t, c, "CRLF then GET /sub")
	if st.resp.StatusCode != 200 || st.key == "" {
		t.Fatalf("CRLF then GET /sub = %d %v; want a stream", st.resp.StatusCode, st.resp.Header)
	}
}

// TestCRLFAfterBodyIsIdleNotSlow: a publisher that sends its CRLF after a
// body and then waits holds an idle keep-alive connection, not a slow head:
// no 408 at --header-timeout, and the next request is served.
func TestCRLFAfterBodyIsIdleNotSlow(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--header-timeout", "500ms")
	c := dial(t, n.api)
	writeAll(t, c, "POST /pub/topic/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n")
	out, closed := readUntilQuiet(c, 2*time.Second) // four times --header-timeout
	if statusOf(out) != 200 || closed || strings.Count(out, "HTTP/1.1 ") != 1 {
		t.Fatalf("POST with a trailing CRLF, then nothing: %q (closed %v); want one 200 and the connection kept", out, closed)
	}
	writeAll(t, c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	out, closed = readUntilQuiet(c, 3*time.Second)
	if statusOf(out) != 200 || !closed {
		t.Errorf("next request: %q (closed %v); want 200", firstLine(out), closed)
	}
}

// TestAbsoluteFormSchemes: an absolute-form target names the resource by
// URI: http and https are ours, any other scheme is a 400 and starts nothing.
func TestAbsoluteFormSchemes(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, tc := range []struct{ addr, target string }{
		{n.edge, "zz://x/sub?topic=a"}, {n.edge, "ftp://x/sub?topic=a"}, {n.edge, "ws://x/sub?topic=a"},
		{n.api, "zz://x/healthz"}, {n.api, "wss://x/stats"},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			out, closed := rawExchange(t, tc.addr, method+" "+tc.target+" HTTP/1.1\r\nHost: x\r\n\r\n", 3*time.Second)
			if statusOf(out) != 400 || !closed || strings.Contains(out, "Push-Conn") {
				t.Errorf("%s %s: %q (closed %v); want 400 and close, no stream", method, tc.target, firstLine(out), closed)
			}
		}
	}
	if st := n.stats(); st["connections"] != 0 {
		t.Errorf("/stats connections = %v; want 0", st["connections"])
	}
	for _, target := range []string{"http://x/sub?topic=a", "HTTPS://x:443/sub?topic=a"} {
		s := n.subscribe(target)
		s.close()
	}
	got := pipeline(t, n.api, "GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if got[0].resp.StatusCode != 200 {
		t.Errorf("GET http://x/healthz = %d; want 200", got[0].resp.StatusCode)
	}
}

// TestMultipartBodyWithTheBoundary: a published body that holds the
// stream's own delimiter, followed by forged part headers, reaches a
// mime/multipart reader as one part with the bytes published.
func TestMultipartBodyWithTheBoundary(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=news&format=multipart")
	defer s.close()
	boundary := strings.TrimPrefix(s.resp.Header.Get("Content-Type"), "multipart/mixed; boundary=")
	forged := "before\r\n--" + boundary + "\r\nContent-Type: application/json\r\nPush-Id: 666\r\n\r\n{\"forged\":true}\r\n--" + boundary + "--\r\n= \t\xff"
	bodies := []string{forged, "--" + boundary, "after"}
	var ids []string
	for _, b := range append(bodies, "end") { // "end" closes the part before it
		res := n.mustPub(200, "topic/news", b, "Content-Type", "text/plain")
		ids = append(ids, strings.Trim(string(res["id"]), `"`))
	}
	ids = ids[:len(bodies)]
	r := multipart.NewReader(s.body, boundary)
	var got []string
	for len(got) < 1+len(bodies) {
		s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("NextPart after %d parts: %v", len(got), err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", len(got), err)
		}
		if bytes.HasPrefix(b, []byte(`{"protocol":0,`)) {
			continue // a heartbeat
		}
		if i := len(got) - 1; i >= 0 && (string(b) != bodies[i] || p.Header.Get("Push-Id") != ids[i]) {
			t.Errorf("part %d = %q Push-Id %q; want %q Push-Id %s", i, b, p.Header.Get("Push-Id"), bodies[i], ids[i])
		}
		got = append(got, string(b))
	}
}

// TestProbesWithoutAPIToken: /healthz and /readyz answer load balancers
// without --api-token; everything else on the api listener still needs it.
func TestProbesWithoutAPIToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--api-token", "s3cret")
	s := n.subscribe("/sub?topic=t")
	defer s.close()
	for _, method := range []string{"GET", "HEAD"} {
		for _, p := range []string{"/healthz", "/readyz", "/healthz?probe=lb"} {
			if r := n.do(method, p, ""); r.status != 200 {
				t.Errorf("%s %s without a token = %d %s; want 200", method, p, r.status, r.body)
			}
		}
		for _, p := range []string{"/stats", "/metrics", "/conn/" + s.key, "/debug/pprof/", "/healthzz", "/readyz/x", "/nope"} {
			if r := n.do(method, p, ""); r.status != 401 {
				t.Errorf("%s %s without a token = %d; want 401", method, p, r.status)
			}
		}
	}
	for _, p := range []string{"pub/topic/t", "pub"} {
		if r := n.do("POST", "/"+p, "x"); r.status != 401 {
			t.Errorf("POST /%s without a token = %d; want 401", p, r.status)
		}
	}
	if r := n.do("GET", "/stats", "", "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Errorf("GET /stats with the token = %d; want 200", r.status)
	}
	// A probe over a raw socket, as a load balancer sends it.
	out, closed := rawExchange(t, n.api, "GET /healthz HTTP/1.0\r\n\r\n", 3*time.Second)
	if statusOf(out) != 200 || !closed {
		t.Errorf("HTTP/1.0 GET /healthz without a token: %q (closed %v); want 200 and close", firstLine(out), closed)
	}
}

// TestHEADOnSubscribeWithAuthCallback: the callback is asked for a HEAD
// /sub as for its GET (its verdict is in the head), the answer comes back
// from the callback's worker without a body, and the requests pipelined
// behind it are served in order.
func TestHEADOnSubscribeWithAuthCallback(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL)
	got := pipeline(t, n.edge,
		headRequest("/sub?topic=chat.a", "Authorization", "Bearer user7"),
		headRequest("/sub?topic=chat.a&format=poll", "Authorization", "Bearer user7"),
		headRequest("/sub", "Authorization", "Bearer forbidden"),
		headRequest("/sub", "Authorization", "Bearer broken"),
		headRequest("/sub?topic=news", "Authorization", "Bearer user7"),
		"GET /sub?topic=chat.a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer user7\r\n\r\n",
	)
	for i, w := range []int{200, 200, 403, 502, 403} {
		if e := got[i]; e.resp.StatusCode != w || e.body != "" || e.resp.Header.Get("Push-Conn") != "" {
			t.Errorf("%s (%d) = %d body %q Push-Conn %q; want %d, no body, no key", e.req, i, e.resp.StatusCode, e.body, e.resp.Header.Get("Push-Conn"), w)
		}
	}
	if e := got[5]; e.resp.StatusCode != 200 || e.resp.Header.Get("Push-Conn") == "" {
		t.Fatalf("GET /sub after the HEADs = %d %v; want a stream", e.resp.StatusCode, e.resp.Header)
	}
	if r := n.mustPub(200, "user/7", "hi"); string(r["delivered"]) != "1" {
		t.Errorf("POST /pub/user/7 delivered %s; want 1: only the GET holds a stream", r["delivered"])
	}
}

// TestMethodNotAllowedSaysAllow: every 405 names the methods its target
// answers in an Allow field (RFC 9110 §15.5.6: a 405 MUST carry one), on the
// edge and on the api listener, and keeps a keep-alive connection (pipeline
// fails unless the request after the 405 is answered too).
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	cases := []struct {
		addr, req, allow string
	}{
		{n.edge, "POST /sub?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "GET, HEAD, OPTIONS"},
		{n.edge, "GET /ack?conn=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&id=1 HTTP/1.1\r\nHost: x\r\n\r\n", "POST, OPTIONS"},
		{n.api, "GET /pub/topic/t HTTP/1.1\r\nHost: x\r\n\r\n", "POST"},
		{n.api, "POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "GET, HEAD"},
		{n.api, "PUT /conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "GET, HEAD, DELETE"},
	}
	for _, tc := range cases {
		got := pipeline(t, tc.addr, tc.req, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		e := got[0]
		if e.resp.StatusCode != 405 || e.resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%q = %d Allow %q; want 405 Allow %q", tc.req, e.resp.StatusCode, e.resp.Header.Get("Allow"), tc.allow)
		}
		if !strings.Contains(e.body, `"error":`) {
			t.Errorf("%q: body %q; want a JSON error", tc.req, e.body)
		}
	}
}
