package acceptance

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/http2"
)

// SPEC §3, §7: --max-conn-age ends a stream with the reconnect frame, spread
// over time; a stream whose token (exp) or auth callback ttl ends gets the
// refresh frame --refresh-before it and is closed at it; a QoS 1 resume from
// before a message that expired unacknowledged starts with the gap frame.

// control is a control packet (protocol 3) as a stream carries it.
type control struct {
	Protocol int
	Time     int64
	Cmd      string
	Retry    int64
	Exp      int64
	Since    string
}

// untilControl reads ndjson lines until a control packet; it returns the
// packet and the other packets before it, heartbeats left out.
func (s *stream) untilControl() (control, []string) {
	s.t.Helper()
	var before []string
	for {
		l := s.line()
		var c control
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			s.t.Fatalf("stream %s: line %q is not JSON: %v", s.key, l, err)
		}
		switch c.Protocol {
		case 3:
			return c, before
		case 0: // a heartbeat
		default:
			before = append(before, l)
		}
	}
}

// TestMaxConnAge: 30 streams opened in one burst with --max-conn-age 3s all
// get the reconnect frame (retry = --retry) and are closed, and not all in
// the same sweep: the jitter and the per-tick budget spread them, so their
// frames carry several distinct times (a sweep's frames share its time).
// An SSE stream gets retry: and event: reconnect; an HTTP/2 stream ends
// alone (END_STREAM) and its connection carries the next stream.
func TestMaxConnAge(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-conn-age", "3s", "--heartbeat", "2s", "--retry", "1500ms")
	const burst = 30
	streams := make([]*stream, burst)
	for i := range streams {
		streams[i] = n.subscribe("/sub?topic=age&user=u" + strconv.Itoa(i))
	}
	sse := n.subscribe("/sub?topic=age&format=sse")
	type ended struct {
		c   control
		err string
	}
	done := make(chan ended, burst)
	for _, s := range streams {
		go func() {
			defer s.close()
			var e ended
			s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			sc := bufio.NewScanner(s.body)
			for sc.Scan() {
				var c control
				if json.Unmarshal(sc.Bytes(), &c) == nil && c.Protocol == 3 {
					e.c = c
					break
				}
			}
			// The reconnect frame is the last: the stream ends (last chunk), then the connection.
			if rest, err := io.ReadAll(s.body); err != nil || len(rest) > 0 {
				e.err = "after the reconnect frame: " + strconv.Quote(string(rest)) + ", " + errString(err)
			}
			done <- e
		}()
	}
	times := map[int64]int{}
	for range burst {
		e := <-done
		if e.c.Cmd != "reconnect" || e.c.Retry != 1500 || e.err != "" {
			t.Errorf("a stream past --max-conn-age read %+v %s; want the reconnect packet with retry 1500, then its end", e.c, e.err)
		}
		times[e.c.Time]++
	}
	if len(times) < 3 {
		t.Errorf("the %d reconnect frames carry %d distinct times %v; want at least 3 (spread over several sweeps, never one wave)", burst, len(times), times)
	}
	var retry, event []string
	for len(event) == 0 || event[0] != "event: reconnect" {
		ev := sse.sseEvent()
		if strings.HasPrefix(ev[0], "retry: ") {
			retry, ev = ev[:1], ev[1:]
		}
		if len(ev) > 0 {
			event = ev
		}
	}
	if len(retry) != 1 || retry[0] != "retry: 1500" || len(event) != 2 || !strings.Contains(event[1], `"cmd":"reconnect"`) {
		t.Errorf("SSE stream past --max-conn-age read %q %q; want retry: 1500 and event: reconnect", retry, event)
	}
	sse.expectClosed(ioTimeout)
	if st := n.stats(); st["max_age_closes"] != burst+1 || st["connections"] != 0 {
		t.Errorf("/stats max_age_closes %v, connections %v; want %d and 0", st["max_age_closes"], st["connections"], burst+1)
	}
	checkH2MaxAge(t, n)
}

// checkH2MaxAge: an h2c stream past --max-conn-age gets the reconnect frame
// and ends (END_STREAM: the body reads EOF); the connection stays, and the
// next stream rides it.
func checkH2MaxAge(t *testing.T, n *node) {
	h2c := h2cClient()
	open := func() (*http.Response, bool) {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 30*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.edge+"/sub?topic=age-h2", nil)
		resp, err := h2c.Do(req)
		if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("h2c GET /sub = %v, %v; want 200 over HTTP/2", resp, err)
		}
		return resp, reused
	}
	first, _ := open()
	body, err := io.ReadAll(first.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	var c control
	json.Unmarshal([]byte(lines[len(lines)-1]), &c)
	if err != nil || c.Cmd != "reconnect" {
		t.Fatalf("h2 stream past --max-conn-age read %q, %v; want the reconnect packet last, then END_STREAM", body, err)
	}
	second, reused := open()
	defer second.Body.Close()
	if line, err := bufio.NewReader(second.Body).ReadString('\n'); err != nil || !strings.Contains(line, `"state":"registered"`) || !reused {
		t.Errorf("the next h2 stream read %q, %v (connection reused: %v); want registered on the same connection", line, err, reused)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP.
func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestTokenRefreshAndExpiry: a stream whose token's exp is 4s away gets the
// refresh frame (with the exp) --refresh-before it, keeps receiving until
// then, and is closed at exp: its user is gone from the node. A token that
// ends within --refresh-before gets the refresh frame right after
// registered and its replay. The client reconnects with a new token and resumes from its
// last id: what was stored meanwhile (QoS 1) arrives.
func TestTokenRefreshAndExpiry(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--jwt-secret", jwtSecret, "--refresh-before", "2s", "--heartbeat", "2s")
	exp := time.Now().Unix() + 4
	token := signToken(t, jwtSecret, jwt.MapClaims{"sub": "r1", "exp": exp})
	s := n.subscribe("/sub", "Authorization", "Bearer "+token)
	defer s.close()
	s.line() // registered
	id := string(n.mustPub(200, "user/r1", "before refresh", "Push-QoS", "1")["id"])
	c, before := s.untilControl()
	if c.Cmd != "refresh" || c.Exp != exp*1000 || len(before) != 1 || !strings.Contains(before[0], `"data":"before refresh"`) {
		t.Fatalf("stream read %q then %+v; want the message, then the refresh packet with exp %d", before, c, exp*1000)
	}
	s.expectClosed(ioTimeout)
	waitFor(t, ioTimeout, "user r1 still held after its token expired", func() bool {
		return n.pub("user/r1", "after exp").status == 404
	})
	stored := string(n.mustPub(202, "user/r1", "stored after exp", "Push-QoS", "1")["id"])
	if st := n.stats(); st["refreshes"] != 1 || st["expiries"] != 1 {
		t.Errorf("/stats refreshes %v, expiries %v; want 1 and 1", st["refreshes"], st["expiries"])
	}

	// The client comes back with a new token, from the last id it had.
	next := signToken(t, jwtSecret, jwt.MapClaims{"sub": "r1", "exp": time.Now().Unix() + 2})
	s2 := n.subscribe("/sub?since=" + strings.Trim(id, `"`) + "&token=" + next)
	defer s2.close()
	if reg := s2.packet(); !strings.Contains(reg, `"state":"registered"`) {
		t.Fatalf("resumed stream's first packet %s; want registered", reg)
	}
	if m := s2.packet(); !strings.Contains(m, `"id":"`+strings.Trim(stored, `"`)+`"`) || !strings.Contains(m, "stored after exp") {
		t.Errorf("resumed stream read %s; want the message stored while it was away", m)
	}
	// Its token ends within --refresh-before: refresh comes at once, after the replay.
	if c := s2.packet(); !strings.HasPrefix(c, `{"protocol":3,"time":T,"cmd":"refresh","exp":`) {
		t.Errorf("packet after the replay of a stream whose token ends within --refresh-before = %s; want refresh", c)
	}
	s2.expectClosed(ioTimeout)

	// Over HTTP/2 (h2c): the refresh frame, then END_STREAM at exp.
	h2exp := time.Now().Unix() + 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.edge+"/sub?token="+signToken(t, jwtSecret, jwt.MapClaims{"sub": "r2", "exp": h2exp}), nil)
	resp, err := h2cClient().Do(req)
	if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("h2c GET /sub = %v, %v; want 200 over HTTP/2", resp, err)
	}
	body, err := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	var last control
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if err != nil || last.Cmd != "refresh" || last.Exp != h2exp*1000 {
		t.Errorf("h2 stream with a token ending at %d read %q, %v; want the refresh packet last, then END_STREAM", h2exp, body, err)
	}
}

// TestRefreshBeforeShorterThanVisits: --refresh-before 1s, below the
// sweep's visit interval (2.5 s with the default --heartbeat). Every visit
// at which the refresh is due is also the last before the token's exp, at
// which the stream is closed: the refresh frame still comes, right before
// the close. It was left out: the stream ended with no frame.
func TestRefreshBeforeShorterThanVisits(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--jwt-secret", jwtSecret, "--refresh-before", "1s")
	exp := time.Now().Unix() + 5
	s := n.subscribe("/sub", "Authorization", "Bearer "+signToken(t, jwtSecret, jwt.MapClaims{"sub": "r9", "exp": exp}))
	defer s.close()
	s.line() // registered
	s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(s.body) // to the close
	lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
	var last control
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if err != nil || last.Cmd != "refresh" || last.Exp != exp*1000 {
		t.Errorf("stream with a token ending at %d read %q, %v to its close; want the refresh packet last", exp, rest, err)
	}
	if st := n.stats(); st["refreshes"] != 1 || st["expiries"] != 1 {
		t.Errorf("/stats refreshes %v, expiries %v; want 1 and 1", st["refreshes"], st["expiries"])
	}
}

// TestAuthCallbackTTL: an auth callback that answers {"ttl":3} has the
// stream refreshed and closed as a token's exp would; a ttl that is no
// positive number is the callback's error (502).
func TestAuthCallbackTTL(t *testing.T) {
	t.Parallel()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer short":
			io.WriteString(w, `{"user":"cb","ttl":3}`)
		case "Bearer zero":
			io.WriteString(w, `{"user":"cb","ttl":0}`)
		default:
			w.WriteHeader(401)
		}
	}))
	t.Cleanup(svc.Close)
	n := startNode(t, "--auth-url", svc.URL, "--refresh-before", "2s", "--heartbeat", "2s")
	start := time.Now()
	s := n.subscribe("/sub?format=sse", "Authorization", "Bearer short")
	defer s.close()
	var ev []string
	for len(ev) == 0 || ev[0] != "event: refresh" {
		ev = s.sseEvent()
		if strings.HasPrefix(ev[0], ":") { // a heartbeat comment
			ev = ev[1:]
		}
	}
	var c control
	if len(ev) != 2 || json.Unmarshal([]byte(strings.TrimPrefix(ev[1], "data: ")), &c) != nil || c.Cmd != "refresh" ||
		c.Exp < start.Add(3*time.Second).UnixMilli() || c.Exp > time.Now().Add(4*time.Second).UnixMilli() {
		t.Errorf("refresh event %q; want event: refresh, its exp 3s after the callback's answer (rounded up to the second)", ev)
	}
	s.expectClosed(ioTimeout)
	if status, msg := refusal(t, n, "/sub", "Authorization", "Bearer zero"); status != 502 {
		t.Errorf(`callback answering {"ttl":0}: %d %q; want 502`, status, msg)
	}
}

// TestQoSMailboxGap: user q got message 1 and left; message 2 (Push-TTL 1)
// expired unacknowledged; message 3 is stored. A resume from 1 starts with
// the gap frame (ndjson, and SSE's event: gap with Last-Event-ID), then 3; a
// resume from 2 or later has no gap frame.
func TestQoSMailboxGap(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?user=q")
	s.line()
	id1 := strings.Trim(string(n.mustPub(200, "user/q", "m1", "Push-QoS", "1")["id"]), `"`)
	s.line()
	s.close()
	waitFor(t, ioTimeout, "user q still online", func() bool { return n.pub("user/q", "probe").status == 404 })
	id2 := strings.Trim(string(n.mustPub(202, "user/q", "m2", "Push-QoS", "1", "Push-TTL", "1")["id"]), `"`)
	time.Sleep(1500 * time.Millisecond) // m2's TTL ends unacknowledged
	id3 := strings.Trim(string(n.mustPub(202, "user/q", "m3", "Push-QoS", "1")["id"]), `"`)

	r := n.subscribe("/sub?user=q&since=" + id1)
	r.line()
	if got, want := r.packet(), `{"protocol":3,"time":T,"cmd":"gap","since":"`+id1+`"}`; got != want {
		t.Errorf("resume from before a lost message: second packet %s; want %s", got, want)
	}
	if m := r.packet(); !strings.Contains(m, `"id":"`+id3+`"`) {
		t.Errorf("after the gap frame: %s; want message %s", m, id3)
	}
	r.close()
	waitFor(t, ioTimeout, "user q still online", func() bool { return n.pub("user/q", "probe").status == 404 })

	e := n.subscribe("/sub?user=q&format=sse", "Last-Event-ID", id1)
	defer e.close()
	ev := e.sseEvent()
	for ev[0] == "event: registered" || strings.HasPrefix(ev[0], "retry: ") {
		ev = e.sseEvent()
	}
	if len(ev) != 2 || ev[0] != "event: gap" || !strings.Contains(ev[1], `"since":"`+id1+`"`) {
		t.Errorf("SSE resume from before a lost message: %q; want event: gap", ev)
	}
	e.close()
	waitFor(t, ioTimeout, "user q still online", func() bool { return n.pub("user/q", "probe").status == 404 })

	// A long-poll from id1: the gap packet first in "messages".
	if status, body := pollOnce(t, n, "/sub?user=q&format=poll&since="+id1); status != 200 ||
		!strings.HasPrefix(body, `{"messages":[{"protocol":3,`) || !strings.Contains(body, `"cmd":"gap","since":"`+id1+`"`) {
		t.Errorf("long-poll from before a lost message = %d %s; want the gap packet first", status, body)
	}

	a := n.subscribe("/sub?user=q&since=" + id2)
	defer a.close()
	a.line()
	if m := a.packet(); !strings.Contains(m, `"id":"`+id3+`"`) {
		t.Errorf("resume from the lost message itself: %s; want message %s at once, no gap frame", m, id3)
	}
}

// pollOnce sends one long-poll to the edge and returns its status and body.
func pollOnce(t *testing.T, n *node, target string) (int, string) {
	t.Helper()
	resp, err := n.client.Get("http://" + n.edge + target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
