package acceptance

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SPEC §6: subscribers are allowed by a token (--jwt-secret), a callback
// (--auth-url) or both, and the topics they may take by the token's or the
// callback's list and --topic-acl templates.

const jwtSecret = "acceptance-secret"

func signToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(sub string, topics ...string) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	if topics != nil {
		c["topics"] = topics
	}
	return c
}

// refusal asks for a subscribe that must not start and returns its status
// and JSON error.
func refusal(t *testing.T, n *node, target string, hdr ...string) (int, string) {
	t.Helper()
	s := n.subscribeAny(target, hdr...)
	defer s.close()
	b, _ := io.ReadAll(io.LimitReader(s.resp.Body, 4096))
	var e struct{ Error string }
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Errorf("GET %s = %d %q; want a JSON error", target, s.resp.StatusCode, b)
	}
	if s.key != "" {
		t.Errorf("GET %s = %d with a Push-Conn key; a refused subscribe gets none", target, s.resp.StatusCode)
	}
	return s.resp.StatusCode, e.Error
}

func TestJWTSubscribersAndTopicACL(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--jwt-secret", jwtSecret, "--topic-acl", "user.{user}.*")
	token := signToken(t, jwtSecret, validClaims("42", "news", "sport.*"))
	bearer := []string{"Authorization", "Bearer " + token}

	// Allowed: a topic from the token, one matching a token pattern, and the
	// user's own topic through the ACL template; the user is the token's.
	s := n.subscribe("/sub?topic=news&topic=sport.f1&topic=user.42.inbox", bearer...)
	defer s.close()
	s.packet()
	for _, to := range []string{"user/42", "topic/news", "topic/sport.f1", "topic/user.42.inbox"} {
		if got := n.mustPub(200, to, `{"x":1}`, "Content-Type", "application/json")["delivered"]; string(got) != "1" {
			t.Errorf("POST /pub/%s delivered %s; want 1 (the token's user and topics)", to, got)
		}
		if p := s.packet(); !strings.Contains(p, `"data":{"x":1}`) {
			t.Errorf("after POST /pub/%s the stream read %s", to, p)
		}
	}
	// The token may come in the query instead.
	q := n.subscribe("/sub?topic=news&token=" + token)
	q.close()

	cases := []struct {
		what, target string
		hdr          []string
		status       int
		says         string
	}{
		{"no token", "/sub?topic=news", nil, 401, "token"},
		{"a topic neither the token nor the ACL allows", "/sub?topic=news&topic=weather", bearer, 403, "topic 2 of the query"},
		{"another user's ACL topic", "/sub?topic=user.43.inbox", bearer, 403, "topic 1 of the query"},
		{"user= other than the token's", "/sub?user=43", bearer, 403, "user"},
		{"expired token", "/sub", []string{"Authorization", "Bearer " + signToken(t, jwtSecret,
			jwt.MapClaims{"sub": "42", "exp": time.Now().Add(-time.Minute).Unix()})}, 401, "expired"},
		{"token without exp", "/sub", []string{"Authorization", "Bearer " + signToken(t, jwtSecret,
			jwt.MapClaims{"sub": "42"})}, 401, "exp"},
		{"token signed with another secret", "/sub", []string{"Authorization", "Bearer " + signToken(t, "other",
			validClaims("42"))}, 401, "signature"},
		{"not a token", "/sub", []string{"Authorization", "Bearer abc"}, 401, "token"},
	}
	for _, c := range cases {
		status, msg := refusal(t, n, c.target, c.hdr...)
		if status != c.status || !strings.Contains(msg, c.says) {
			t.Errorf("%s: GET %s = %d %q; want %d naming %q", c.what, c.target, status, msg, c.status, c.says)
		}
	}
	if got := n.stats()["auth_denied"]; got != float64(len(cases)) {
		t.Errorf("/stats auth_denied = %v; want %d", got, len(cases))
	}
}

// authService is an --auth-url endpoint whose answer depends on the
// Authorization the subscriber sent; it records what it was asked.
type authService struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func startAuthService(t *testing.T) *authService {
	a := &authService{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Clone())
		a.mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "Bearer user7":
			io.WriteString(w, `{"user":"7","topics":["chat.*"]}`)
		case "Bearer open":
			w.WriteHeader(204) // allowed, any topic asked for
		case "Bearer forbidden":
			w.WriteHeader(403)
		case "Bearer broken":
			w.WriteHeader(500)
		case "Bearer slow":
			time.Sleep(2 * time.Second)
		case "Bearer slowish":
			time.Sleep(600 * time.Millisecond)
			io.WriteString(w, `{"user":"s"}`)
		default:
			w.WriteHeader(401)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *authService) last() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[len(a.seen)-1]
}

func TestAuthCallback(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL+"/check", "--auth-timeout", "500ms")

	s := n.subscribe("/sub?topic=chat.room1", "Authorization", "Bearer user7", "Cookie", "sid=abc",
		"X-Forwarded-For", "203.0.113.9")
	defer s.close()
	s.packet()
	got := svc.last()
	for name, want := range map[string]string{
		"Authorization":   "Bearer user7",
		"Cookie":          "sid=abc",
		"X-Forwarded-For": "203.0.113.9, 127.0.0.1",
		"X-Original-Uri":  "/sub?topic=chat.room1",
	} {
		if got.Get(name) != want {
			t.Errorf("the callback got %s: %q; want %q", name, got.Get(name), want)
		}
	}
	if r := n.mustPub(200, "user/7", "hi"); string(r["delivered"]) != "1" {
		t.Errorf("POST /pub/user/7 delivered %s; want 1: the user is the callback's", r["delivered"])
	}
	if p := s.packet(); !strings.Contains(p, `"data":"hi"`) {
		t.Errorf("stream read %s; want the message", p)
	}
	open := n.subscribe("/sub?topic=anything", "Authorization", "Bearer open")
	open.close()

	cases := []struct {
		what, target, authz string
		status              int
		says                string
	}{
		{"callback says 401", "/sub", "Bearer nobody", 401, "refused"},
		{"callback says 403", "/sub", "Bearer forbidden", 403, "refused"},
		{"callback fails", "/sub", "Bearer broken", 502, "auth service"},
		{"callback too slow", "/sub", "Bearer slow", 502, "auth service"},
		{"topic outside the callback's list", "/sub?topic=news", "Bearer user7", 403, "topic 1 of the query"},
	}
	for _, c := range cases {
		status, msg := refusal(t, n, c.target, "Authorization", c.authz)
		if status != c.status || !strings.Contains(msg, c.says) {
			t.Errorf("%s: GET %s = %d %q; want %d naming %q", c.what, c.target, status, msg, c.status, c.says)
		}
	}
	st := n.stats()
	if st["auth_denied"] != 3 || st["auth_failures"] != 2 {
		t.Errorf("/stats auth_denied %v, auth_failures %v; want 3 and 2", st["auth_denied"], st["auth_failures"])
	}
}

// A refused subscribe leaves a keep-alive connection usable: the request
// pipelined behind it is answered once the callback's verdict is in.
func TestAuthCallbackKeepsPipelinedRequests(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL)
	c := dial(t, n.edge)
	defer c.Close()
	writeAll(t, c, "GET /sub HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forbidden\r\n\r\n"+
		"GET /sub?topic=chat.a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer user7\r\n\r\n")
	first := readStreamHead(t, c, "first, refused subscribe")
	io.Copy(io.Discard, first.resp.Body)
	if first.resp.StatusCode != 403 {
		t.Fatalf("first subscribe = %d; want 403", first.resp.StatusCode)
	}
	second, err := http.ReadResponse(first.raw, nil)
	if err != nil {
		t.Fatalf("second, pipelined subscribe: %v", err)
	}
	if second.StatusCode != 200 || second.Header.Get("Push-Conn") == "" {
		t.Fatalf("second subscribe = %d %v; want a stream", second.StatusCode, second.Header)
	}
}

// A subscriber that leaves while the callback is asked costs nothing, and
// an unreachable callback is a 502, not a hang.
func TestAuthCallbackGoneOrLeft(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL, "--auth-timeout", "3s")
	c := dial(t, n.edge)
	writeAll(t, c, "GET /sub HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slow\r\n\r\n")
	c.Close()
	waitFor(t, 10*time.Second, "the slow callback to be asked", func() bool {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		return len(svc.seen) == 1
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	gone := startNode(t, "--auth-url", "http://"+dead+"/check")
	if status, msg := refusal(t, gone, "/sub", "Authorization", "Bearer x"); status != 502 || !strings.Contains(msg, "auth service") || strings.Contains(msg, dead) {
		t.Errorf("with the callback unreachable: %d %q; want 502 naming the auth service, not its address", status, msg)
	}
	// The first node is still well once the slow answer came for a
	// connection that is gone.
	time.Sleep(2200 * time.Millisecond)
	s := n.subscribe("/sub?topic=x", "Authorization", "Bearer open")
	s.close()
}

// With both a secret and a callback, a token of ours needs no callback and
// anything else goes to the callback.
func TestJWTWithCallbackFallback(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--jwt-secret", jwtSecret, "--auth-url", svc.URL)
	s := n.subscribe("/sub?topic=news", "Authorization", "Bearer "+signToken(t, jwtSecret, validClaims("42", "news")))
	s.close()
	svc.mu.Lock()
	asked := len(svc.seen)
	svc.mu.Unlock()
	if asked != 0 {
		t.Errorf("a valid token still asked the callback %d times", asked)
	}
	s = n.subscribe("/sub?topic=chat.x", "Authorization", "Bearer user7")
	s.close()
	if status, _ := refusal(t, n, "/sub", "Authorization", "Bearer forbidden"); status != 403 {
		t.Errorf("callback's 403 = %d", status)
	}
}

func TestAuthSettingsRefused(t *testing.T) {
	t.Parallel()
	base := []string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"--topic-acl", "user.{user}.*"}, "--topic-acl"},
		{[]string{"--jwt-secret", "s", "--topic-acl", "user.{usr}"}, "--topic-acl"},
		{[]string{"--auth-url", "ftp://example.com/x"}, "--auth-url"},
		{[]string{"--auth-url", "http://127.0.0.1:1/", "--auth-timeout", "0s"}, "--auth-timeout"},
		{[]string{"--hook-url", "not a url"}, "--hook-url"},
	}
	for _, c := range cases {
		code, out := runOnce(t, append(base, c.args...)...)
		if code == 0 || !strings.Contains(out, c.says) {
			t.Errorf("pushwire %v: exit %d, said %q; want a refusal naming %s", c.args, code, out, c.says)
		}
	}
}

// A subscribe still waiting for the callback when the node starts to drain
// does not start a stream the drain has already passed by: it gets 503, and
// the node still exits 0.
func TestAuthCallbackAnsweredDuringDrain(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL, "--auth-timeout", "5s", "--drain", "10s")
	c := dial(t, n.edge)
	defer c.Close()
	writeAll(t, c, "GET /sub?topic=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slow\r\n\r\n")
	waitFor(t, 10*time.Second, "the callback to be asked", func() bool {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		return len(svc.seen) == 1
	})
	n.signal(syscall.SIGTERM)
	s := readStreamHead(t, c, "subscribe answered during the drain")
	if s.resp.StatusCode != 503 || s.key != "" {
		t.Errorf("subscribe whose callback answered during the drain = %d (key %q); want 503 and no stream", s.resp.StatusCode, s.key)
	}
	if code := n.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after the drain; want 0", code)
	}
}

// A subscribe allowed by the callback gets its whole replay, however much
// is stored for its user: the answer made after the callback is admitted as
// the answer to the client's own request, not cut at --write-buffer-limit.
func TestAuthCallbackSubscribeWithALargeReplay(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL)
	big := `"` + strings.Repeat("x", 60<<10) + `"`
	for range 10 { // 600 KiB for user 7, over the 256 KiB --write-buffer-limit
		n.mustPub(202, "user/7", big, "Push-QoS", "1", "Content-Type", "application/json")
	}
	s := n.subscribe("/sub?topic=chat.x", "Authorization", "Bearer user7")
	defer s.close()
	s.packet() // registered
	for i := range 10 {
		if p := s.packet(); !strings.Contains(p, `"to":"user:7"`) || len(p) < 60<<10 {
			t.Fatalf("stored message %d: read %.80s… (%d bytes)", i+1, p, len(p))
		}
	}
}

// --auth-timeout bounds the whole wait of a subscribe, the wait for a free
// callback worker included: with more subscribes at once than workers (64)
// and a callback that takes most of the timeout, the ones that would wait
// past it get 502 instead of a late answer.
func TestAuthTimeoutCoversTheWaitForAWorker(t *testing.T) {
	t.Parallel()
	svc := startAuthService(t)
	n := startNode(t, "--auth-url", svc.URL, "--auth-timeout", "1s")
	const subscribers = 100
	statuses := make(chan int, subscribers)
	for range subscribers {
		go func() {
			c, err := net.Dial("tcp", n.edge)
			if err != nil {
				statuses <- 0
				return
			}
			defer c.Close()
			c.Write([]byte("GET /sub HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slowish\r\n\r\n"))
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				statuses <- 0
				return
			}
			statuses <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range subscribers {
		count[<-statuses]++
	}
	if count[200]+count[502] != subscribers || count[502] == 0 || count[200] == 0 {
		t.Errorf("answers %v; want every subscribe answered, those a worker took in time with 200 and the rest with 502", count)
	}
}
