package auth

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authService is a real HTTP auth service on loopback. Its routes answer with fixed statuses and
// bodies; /echo answers with the user and topic named by its request headers.
func authService(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{}) // /slow waits on it, so that Close does not wait for a sleep
	mux := http.NewServeMux()
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	mux.Handle("/empty", answer(200, ""))
	mux.Handle("/no-content", answer(204, ""))
	mux.Handle("/identity", answer(200, `{"user":"42","topics":["news","user.42.*"],"extra":true}`))
	mux.Handle("/user-only", answer(200, `{"user":"42"}`+"\n"))
	mux.Handle("/bad-json", answer(200, `{"user":42}`))
	mux.Handle("/not-json", answer(200, `OK`))
	mux.Handle("/unauthorized", answer(401, `{"user":"ignored"}`))
	mux.Handle("/forbidden", answer(403, "go away"))
	mux.Handle("/error", answer(500, "boom"))
	mux.Handle("/not-found", answer(404, ""))
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/empty", http.StatusFound)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"user":"`+strings.Repeat("a", maxAnswerBytes)+`"}`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimPrefix(r.Header.Get("Cookie"), "user=")
		fmt.Fprintf(w, `{"user":%q,"topics":["user.%s.*"]}`, user, user)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv
}

// newCallback returns a Callback for o that is closed when the test ends and, unless o names a
// logger, logs nowhere.
func newCallback(t *testing.T, o CallbackOptions) *Callback {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := NewCallback(o)
	if err != nil {
		t.Fatalf("NewCallback(%q) = %v", o.URL, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestCallbackHeaders(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, uri, host string
		header            http.Header
		body              []byte
	}
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body}
	}))
	defer srv.Close()
	c := newCallback(t, CallbackOptions{URL: srv.URL + "/auth?app=1"})

	// A cookie fasthttp would rewrite if it parsed it: quotes, odd spacing, a nameless value.
	cookie := `sid="a b";  theme=dark ;flag`
	v, err := c.Check(&CallbackRequest{
		Cookie:        []byte(cookie),
		Authorization: []byte("Bearer abc.def"),
		XForwardedFor: []byte("203.0.113.7, 10.0.0.1"),
		OriginalURI:   []byte("/sub?topic=news&topic=user.42.inbox&format=sse"),
	})
	if err != nil || v.Status != 200 || !v.Identity.AnyTopic {
		t.Fatalf("Check = %+v, %v; want status 200, any topic", v, err)
	}
	r := <-got
	for name, want := range map[string]string{
		"Cookie":          cookie,
		"Authorization":   "Bearer abc.def",
		"X-Forwarded-For": "203.0.113.7, 10.0.0.1",
		"X-Original-Uri":  "/sub?topic=news&topic=user.42.inbox&format=sse",
		"User-Agent":      userAgent,
	} {
		if values := r.header.Values(name); len(values) != 1 || values[0] != want {
			t.Errorf("the callback got %s %q; want exactly %q", name, values, want)
		}
	}
	if r.method != "GET" || r.uri != "/auth?app=1" || r.host != srv.Listener.Addr().String() || len(r.body) != 0 {
		t.Errorf("the callback got %s %s Host %q body %q; want GET /auth?app=1 Host %q, no body",
			r.method, r.uri, r.host, r.body, srv.Listener.Addr())
	}

	// Empty fields are not sent at all.
	if _, err := c.Check(&CallbackRequest{Authorization: []byte("Bearer x")}); err != nil {
		t.Fatalf("Check = %v", err)
	}
	r = <-got
	for _, name := range []string{"Cookie", "X-Forwarded-For", "X-Original-Uri"} {
		if values, sent := r.header[name]; sent {
			t.Errorf("an empty %s was sent as %q; want it absent", name, values)
		}
	}
}

func TestCallbackAnswers(t *testing.T) {
	t.Parallel()
	srv := authService(t)
	for _, c := range []struct {
		path    string
		want    Verdict
		wantErr string
	}{
		{"/empty", Verdict{Status: 200, Identity: Identity{AnyTopic: true}}, ""},
		{"/no-content", Verdict{Status: 204, Identity: Identity{AnyTopic: true}}, ""},
		{"/identity", Verdict{Status: 200, Identity: Identity{User: "42", Topics: []string{"news", "user.42.*"}}}, ""},
		{"/user-only", Verdict{Status: 200, Identity: Identity{User: "42", AnyTopic: true}}, ""},
		{"/unauthorized", Verdict{Status: 401}, ""},
		{"/forbidden", Verdict{Status: 403}, ""},
		{"/bad-json", Verdict{}, `auth callback answered 200 but its "user" must be a string`},
		{"/not-json", Verdict{Status: 200, Identity: Identity{AnyTopic: true}}, ""}, // "OK": allowed, no identity
		{"/error", Verdict{}, "auth callback answered 500"},
		{"/not-found", Verdict{}, "auth callback answered 404"},
		{"/redirect", Verdict{}, "auth callback answered 302"},
		{"/huge", Verdict{}, fmt.Sprintf("auth callback answer is over %d bytes", maxAnswerBytes)},
	} {
		cb := newCallback(t, CallbackOptions{URL: srv.URL + c.path})
		for range 2 { // the second Check reuses the kept-alive connection
			got, err := cb.Check(&CallbackRequest{})
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("Check(%s) = %v; want %+v", c.path, err, c.want)
			case c.wantErr != "" && (err == nil || err.Error() != c.wantErr):
				t.Errorf("Check(%s) = %+v, %v; want error %q", c.path, got, err, c.wantErr)
			case !reflect.DeepEqual(got, c.want):
				t.Errorf("Check(%s) = %+v; want %+v", c.path, got, c.want)
			}
		}
	}
}

func TestCallbackTimeout(t *testing.T) {
	t.Parallel()
	srv := authService(t)
	c := newCallback(t, CallbackOptions{URL: srv.URL + "/slow", Timeout: 200 * time.Millisecond})
	v, err := c.Check(&CallbackRequest{})
	if err == nil || err.Error() != "auth callback timed out after 200ms" {
		t.Errorf("Check(/slow) = %+v, %v; want error %q", v, err, "auth callback timed out after 200ms")
	}
}

func TestCallbackUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newCallback(t, CallbackOptions{URL: "http://" + addr + "/auth", Timeout: 2 * time.Second})
	v, err := c.Check(&CallbackRequest{})
	t.Logf("Check(closed port) = %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "auth callback unreachable: ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Check(closed port) = %+v, %v; want auth callback unreachable: ... connection refused", v, err)
	}
}

// TestCallbackRefusesLineBreaks: a header value cannot add headers of its own.
func TestCallbackRefusesLineBreaks(t *testing.T) {
	t.Parallel()
	asked := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked <- struct{}{} }))
	defer srv.Close()
	c := newCallback(t, CallbackOptions{URL: srv.URL})
	for _, r := range []*CallbackRequest{
		{Cookie: []byte("a=b\r\nX-User: admin")},
		{Authorization: []byte("Bearer x\nX-User: admin")},
		{XForwardedFor: []byte("1.2.3.4\r")},
		{OriginalURI: []byte("/sub\x00")},
	} {
		if v, err := c.Check(r); err == nil || !strings.HasPrefix(err.Error(), "auth callback not asked: the ") {
			t.Errorf("Check(%q) = %+v, %v; want auth callback not asked: ...", r, v, err)
		}
	}
	if len(asked) != 0 {
		t.Errorf("the service was asked %d times; want 0", len(asked))
	}
}

// TestCallbackIPv6: the URL's host may be an IPv6 literal.
func TestCallbackIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"user":"six"}`)
	})}}
	srv.Start()
	defer srv.Close()
	c := newCallback(t, CallbackOptions{URL: srv.URL + "/auth"})
	if v, err := c.Check(&CallbackRequest{}); err != nil || v.Identity.User != "six" {
		t.Errorf("Check(%s) = %+v, %v; want user six", srv.URL, v, err)
	}
}

// TestCallbackClosesWithoutAnswer: a service that hangs up on every request.
func TestCallbackClosesWithoutAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 4096))
			conn.Close()
		}
	}()
	c := newCallback(t, CallbackOptions{URL: "http://" + ln.Addr().String() + "/", Timeout: 2 * time.Second})
	if v, err := c.Check(&CallbackRequest{}); err == nil || err.Error() != "auth callback closed the connection without answering" {
		t.Errorf("Check = %+v, %v; want error %q", v, err, "auth callback closed the connection without answering")
	}
}

// TestCallbackConcurrent: 200 goroutines share one Callback limited to 16 connections; each gets
// its own answer.
func TestCallbackConcurrent(t *testing.T) {
	t.Parallel()
	srv := authService(t)
	c := newCallback(t, CallbackOptions{URL: srv.URL + "/echo", MaxConns: 16, Timeout: 30 * time.Second})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			for j := range 5 {
				user := fmt.Sprintf("%d-%d", i, j)
				v, err := c.Check(&CallbackRequest{Cookie: []byte("user=" + user)})
				want := Verdict{Status: 200, Identity: Identity{User: user, Topics: []string{"user." + user + ".*"}}}
				if err != nil || !reflect.DeepEqual(v, want) {
					t.Errorf("Check(user %s) = %+v, %v; want %+v", user, v, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCallbackLogsChanges: a failing callback is logged once when it starts failing and once when
// it answers again, not once per subscribe.
func TestCallbackLogsChanges(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	broken.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	c := newCallback(t, CallbackOptions{URL: srv.URL + "/auth?key=secret", Logger: logger})
	for range 3 {
		c.Check(&CallbackRequest{})
	}
	broken.Store(false)
	for range 2 {
		c.Check(&CallbackRequest{})
	}
	out := logs.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, `level=WARN msg="auth callback failing; subscribers get 502 until it answers"`) ||
		!strings.Contains(out, `err="auth callback answered 500"`) || !strings.Contains(out, `level=INFO msg="auth callback answering again"`) {
		t.Errorf("logs after 3 failures and 2 answers:\n%s\nwant one WARN line with the error, then one INFO line", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("logs show the URL's query:\n%s", out)
	}
}

func TestNewCallbackErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		o    CallbackOptions
		want string
	}{
		{CallbackOptions{URL: ""}, `"" is not an absolute http:// or https:// URL`},
		{CallbackOptions{URL: "/auth"}, `"/auth" is not an absolute http:// or https:// URL`},
		{CallbackOptions{URL: "localhost:9000/auth"}, `is not an absolute http:// or https:// URL`},
		{CallbackOptions{URL: "ftp://host/auth"}, `"ftp://host/auth" is not an absolute http:// or https:// URL`},
		{CallbackOptions{URL: "http:///auth"}, `"http:///auth" has no host`},
		{CallbackOptions{URL: "http://:80/auth"}, `"http://:80/auth" has no host`},
		{CallbackOptions{URL: "http://a b/"}, `"http://a b/" is not a URL`},
		{CallbackOptions{URL: "http://u:pw@host/auth"}, `"http://u:xxxxx@host/auth" carries credentials`},
		{CallbackOptions{URL: "http://host/", Timeout: -time.Second}, `timeout -1s is negative`},
		{CallbackOptions{URL: "http://host/", MaxConns: -1}, `max connections -1 is negative`},
	} {
		cb, err := NewCallback(c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewCallback(%+v) = %v, %v; want an error containing %q", c.o, cb, err, c.want)
		}
	}
	for _, u := range []string{"http://127.0.0.1:9000/auth", "https://auth.example/check?x=1", "http://[::1]:80/"} {
		if _, err := NewCallback(CallbackOptions{URL: u}); err != nil {
			t.Errorf("NewCallback(%q) = %v; want nil", u, err)
		}
	}
}
