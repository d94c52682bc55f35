package acceptance

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// Server-side subscriptions (SPEC §9): POST/DELETE /subscriptions/conn/<key>
// and /subscriptions/user/<id> add and remove topics of live streams.

// changes is the answer of a /subscriptions/ call.
type changes struct {
	status      int
	Connections int      `json:"connections"`
	Changed     int      `json:"changed"`
	Conns       []string `json:"conns"`
	Forbidden   []string `json:"forbidden"`
	Unreachable []string `json:"unreachable"`
	Error       string   `json:"error"`
}

// change calls method on /subscriptions/<path> and decodes the JSON answer.
func (n *node) change(method, path string) changes {
	n.t.Helper()
	r := n.do(method, "/subscriptions/"+path, "")
	var c changes
	if err := json.Unmarshal(r.body, &c); err != nil {
		n.t.Fatalf("%s /subscriptions/%s = %d %q: not JSON: %v", method, path, r.status, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		n.t.Fatalf("%s /subscriptions/%s: Content-Type %q; want application/json", method, path, ct)
	}
	c.status = r.status
	return c
}

// nextMessage reads ndjson lines up to the next message packet (skipping
// heartbeats) and returns it.
func (s *stream) nextMessage() string {
	s.t.Helper()
	for {
		if l := s.line(); strings.Contains(l, `"protocol":2`) || strings.Contains(l, `"protocol":3`) {
			return l
		}
	}
}

// TestServerSideSubscriptions: a stream subscribed to nothing gets topics
// through the api, by key and by user; a publish to an added topic reaches
// it, and after the DELETE a publish no longer does; a stream of the user in
// another format (SSE) and one on an HTTP/2 stream change too; bad calls get
// JSON errors.
func TestServerSideSubscriptions(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	a := n.subscribe("/sub?user=42")
	defer a.close()
	a.line() // registered
	b := n.subscribe("/sub?user=42&format=sse")
	defer b.close()
	for ev := b.sseEvent(); ev[0] != "event: registered"; ev = b.sseEvent() {
	}

	// By key: only a gets news.
	c := n.change("POST", "conn/"+a.key+"?topic=news")
	if c.status != 200 || c.Connections != 1 || c.Changed != 1 || len(c.Conns) != 1 || c.Conns[0] != a.key {
		t.Fatalf("POST /subscriptions/conn/<a>?topic=news = %+v; want 200, connections 1, changed 1, conns [a]", c)
	}
	if c := n.change("POST", "conn/"+a.key+"?topic=news"); c.status != 200 || c.Connections != 1 || c.Changed != 0 {
		t.Errorf("the same POST again = %+v; want 200, connections 1, changed 0", c)
	}
	if r := n.mustPub(200, "topic/news", "n1"); string(r["delivered"]) != "1" {
		t.Fatalf("publish to news delivered %s; want 1 (stream a)", r["delivered"])
	}
	if m := a.nextMessage(); !strings.Contains(m, `"to":"topic:news","data":"n1"`) {
		t.Fatalf("stream a got %s; want the news message", m)
	}
	if st := n.do("GET", "/conn/"+a.key, ""); !strings.Contains(string(st.body), `"topics":["news"]`) {
		t.Errorf("GET /conn/<a> = %s; want topics [news]", st.body)
	}

	// By user, two topics at once: both streams, and an HTTP/2 stream of the user.
	h2 := openH2Sub(t, n, "/sub?user=42&format=sse")
	waitSubscribers(t, n, 3)
	c = n.change("POST", "user/42?topic=news&topic=sport")
	if c.status != 200 || c.Connections != 3 || c.Changed != 3 {
		t.Fatalf("POST /subscriptions/user/42?topic=news&topic=sport = %+v; want 200, 3 connections, all 3 changed", c)
	}
	if r := n.mustPub(200, "topic/sport", "s1"); string(r["delivered"]) != "3" {
		t.Fatalf("publish to sport delivered %s; want 3", r["delivered"])
	}
	if m := a.nextMessage(); !strings.Contains(m, `"data":"s1"`) {
		t.Errorf("stream a got %s; want s1", m)
	}
	if ev := b.sseEvent(); !strings.Contains(strings.Join(ev, "\n"), "data: s1") {
		t.Errorf("SSE stream b got %q; want s1", ev)
	}
	h2.until(t, "data: s1")
	if st := n.stats(); st["topics"] != 2 {
		t.Errorf("/stats topics = %v; want 2 (news, sport)", st["topics"])
	}

	// DELETE: the user leaves sport; a publish to it reaches nobody, and
	// the stream's next message is what comes after.
	c = n.change("DELETE", "user/42?topic=sport")
	if c.status != 200 || c.Connections != 3 || c.Changed != 3 {
		t.Fatalf("DELETE /subscriptions/user/42?topic=sport = %+v; want 200, 3 connections changed", c)
	}
	if r := n.mustPub(200, "topic/sport", "s2"); string(r["delivered"]) != "0" {
		t.Errorf("publish to sport after the DELETE delivered %s; want 0", r["delivered"])
	}
	n.mustPub(200, "user/42", "marker")
	if m := a.nextMessage(); !strings.Contains(m, `"data":"marker"`) {
		t.Errorf("stream a's next message = %s; want the marker (not s2)", m)
	}
	if st := n.stats(); st["topics"] != 1 {
		t.Errorf("/stats topics after the DELETE = %v; want 1 (news)", st["topics"])
	}

	// Bad calls.
	for _, tc := range []struct{ method, path string }{
		{"POST", "conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.nope?topic=x"},
		{"POST", "conn/not-a-key?topic=x"},
		{"POST", "user/nobody?topic=x"},
		{"POST", "group/42?topic=x"},
	} {
		if c := n.change(tc.method, tc.path); c.status != 404 || c.Error == "" {
			t.Errorf("%s /subscriptions/%s = %+v; want 404 with an error", tc.method, tc.path, c)
		}
	}
	for _, path := range []string{"user/42", "user/42?topic=a%20b", "user/42?topic=", "user/42?topic=x&force=maybe"} {
		if c := n.change("POST", path); c.status != 400 || c.Error == "" {
			t.Errorf("POST /subscriptions/%s = %+v; want 400 with an error", path, c)
		}
	}
	out, _ := rawExchange(t, n.api, "POST /subscriptions/user/a%zz?topic=x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 2*time.Second)
	if statusOf(out) != 400 || !strings.Contains(out, `"error":`) {
		t.Errorf("POST /subscriptions/user/a%%zz = %q; want 400 with a JSON error", out)
	}
	if r := n.do("GET", "/subscriptions/user/42?topic=x", ""); r.status != 405 || r.header.Get("Allow") != "POST, DELETE" {
		t.Errorf("GET /subscriptions/user/42 = %d Allow %q; want 405 Allow: POST, DELETE", r.status, r.header.Get("Allow"))
	}
	// A long-poll has no lasting subscription: its key is not a stream.
	poll := dial(t, n.edge) // its answer waits for --poll-timeout: not read
	defer poll.Close()
	writeAll(t, poll, "GET /sub?user=7&format=poll HTTP/1.1\r\nHost: x\r\n\r\n")
	waitSubscribers(t, n, 4)
	if c := n.change("POST", "user/7?topic=x"); c.status != 404 {
		t.Errorf("POST /subscriptions/user/7 (a waiting long-poll) = %+v; want 404", c)
	}
}

// TestServerSideSubscriptionsAuth: with --jwt-secret a topic neither the
// stream's token nor --topic-acl allows is 403 (nothing changes), force=1
// takes it; a topic the ACL allows needs no force.
func TestServerSideSubscriptionsAuth(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--jwt-secret", jwtSecret, "--topic-acl", "user.{user}.*")
	tok := signToken(t, jwtSecret, validClaims("42", "news.*"))
	s := n.subscribe("/sub?token=" + tok)
	defer s.close()
	s.line()
	if c := n.change("POST", "user/42?topic=news.eu&topic=user.42.inbox"); c.status != 200 || c.Changed != 1 {
		t.Errorf("POST topics the token and the ACL allow = %+v; want 200, changed 1", c)
	}
	c := n.change("POST", "conn/"+s.key+"?topic=secret&topic=news.us")
	if c.status != 403 || c.Connections != 0 || len(c.Forbidden) != 1 || c.Forbidden[0] != s.key || c.Error == "" {
		t.Fatalf("POST a topic the token does not allow = %+v; want 403 naming the stream in forbidden", c)
	}
	if r := n.mustPub(200, "topic/news.us", "x"); string(r["delivered"]) != "0" {
		t.Errorf("publish to news.us after the 403 delivered %s; want 0 (nothing changed)", r["delivered"])
	}
	if c := n.change("POST", "user/42?topic=secret&force=1"); c.status != 200 || c.Changed != 1 {
		t.Fatalf("POST the same with force=1 = %+v; want 200, changed 1", c)
	}
	n.mustPub(200, "topic/secret", "forced")
	if m := s.nextMessage(); !strings.Contains(m, `"data":"forced"`) {
		t.Errorf("stream got %s; want the forced topic's message", m)
	}
	// Removing is never refused.
	if c := n.change("DELETE", "user/42?topic=secret&topic=news.eu"); c.status != 200 || c.Changed != 1 {
		t.Errorf("DELETE = %+v; want 200, changed 1", c)
	}
}

// h2Sub is a subscribe held on an HTTP/2 stream (h2c).
type h2Sub struct {
	r    *bufio.Reader
	key  string
	body interface{ Close() error }
}

// openH2Sub opens target on n's plaintext edge over h2c.
func openH2Sub(t *testing.T, n *node, target string) *h2Sub {
	t.Helper()
	client := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.edge+target, nil)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("GET %s over h2c = %s %d; want HTTP/2 200", target, resp.Proto, resp.StatusCode)
	}
	return &h2Sub{r: bufio.NewReader(resp.Body), key: resp.Header.Get("Push-Conn"), body: resp.Body}
}

// until reads lines until one contains want; it fails on the stream's end.
func (s *h2Sub) until(t *testing.T, want string) string {
	t.Helper()
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("h2 stream %s: %v before %q", s.key, err, want)
		}
		if strings.Contains(l, want) {
			return l
		}
	}
}

// TestServerSideUnsubscribeKeepsTheRest: a stream with a user and five
// topics (two memberships inline, the rest in a side list) loses two of
// them from the middle and gains one: exactly the others still deliver, and
// once it ends no user or topic is left behind.
func TestServerSideUnsubscribeKeepsTheRest(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?user=9&topic=t1&topic=t2&topic=t3&topic=t4&topic=t5")
	s.line()
	if c := n.change("DELETE", "conn/"+s.key+"?topic=t1&topic=t4&topic=nope"); c.status != 200 || c.Changed != 1 {
		t.Fatalf("DELETE t1, t4 = %+v; want 200, changed 1", c)
	}
	if c := n.change("POST", "conn/"+s.key+"?topic=t6&topic=t2"); c.status != 200 || c.Changed != 1 {
		t.Fatalf("POST t6, t2 = %+v; want 200, changed 1", c)
	}
	var info struct{ Topics []string }
	if r := n.do("GET", "/conn/"+s.key, ""); json.Unmarshal(r.body, &info) != nil {
		t.Fatalf("GET /conn/<key> = %d %s; want JSON", r.status, r.body)
	}
	if slices.Sort(info.Topics); !slices.Equal(info.Topics, []string{"t2", "t3", "t5", "t6"}) {
		t.Errorf("GET /conn/<key> topics = %v; want t2 t3 t5 t6", info.Topics)
	}
	for i, want := range []string{"0", "1", "1", "0", "1", "1"} {
		topic := "t" + string(rune('1'+i))
		if r := n.mustPub(200, "topic/"+topic, topic); string(r["delivered"]) != want {
			t.Errorf("publish to %s delivered %s; want %s", topic, r["delivered"], want)
		}
	}
	for _, want := range []string{"t2", "t3", "t5", "t6"} {
		if m := s.nextMessage(); !strings.Contains(m, `"data":"`+want+`"`) {
			t.Errorf("stream got %s; want %s", m, want)
		}
	}
	if st := n.stats(); st["topics"] != 4 || st["users"] != 1 {
		t.Errorf("/stats = topics %v users %v; want 4 and 1", st["topics"], st["users"])
	}
	s.close()
	waitFor(t, ioTimeout, "no user or topic left after the stream ended", func() bool {
		st := n.stats()
		return st["topics"] == 0 && st["users"] == 0 && st["connections"] == 0
	})
}
