package acceptance

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// presenceAnswer is the union of the presence answers' fields (SPEC §9).
type presenceAnswer struct {
	User        *string  `json:"user"`
	Topic       *string  `json:"topic"`
	Online      *bool    `json:"online"`
	Connections *int     `json:"connections"`
	Subscribers *int     `json:"subscribers"`
	Nodes       []string `json:"nodes"`
	Topics      []struct {
		Topic       string `json:"topic"`
		Subscribers int    `json:"subscribers"`
	} `json:"topics"`
	Truncated   *bool    `json:"truncated"`
	Unreachable []string `json:"unreachable"`
	Error       string   `json:"error"`
}

func (n *node) presence(path string) (int, presenceAnswer) {
	n.t.Helper()
	r := n.do("GET", path, "")
	var a presenceAnswer
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		n.t.Fatalf("GET %s: Content-Type %q; want application/json", path, ct)
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		n.t.Fatalf("GET %s = %d %q: not JSON: %v", path, r.status, r.body, err)
	}
	return r.status, a
}

// topicsText renders a /topics answer as "name=count ..." for comparisons.
func (a presenceAnswer) topicsText() string {
	var b strings.Builder
	for i, t := range a.Topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Topic + "=" + strconv.Itoa(t.Subscribers))
	}
	return b.String()
}

func TestPresenceStandalone(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--node-id", "solo")
	a1 := n.subscribe("/sub?user=42&topic=news&topic=news.eu")
	defer a1.close()
	a2 := n.subscribe("/sub?user=42&topic=news")
	defer a2.close()
	b := n.subscribe("/sub?user=a%2Fb&topic=sport")
	defer b.close()

	status, a := n.presence("/presence/user/42")
	if status != 200 || *a.User != "42" || !*a.Online || *a.Connections != 2 || !reflect.DeepEqual(a.Nodes, []string{"solo"}) || a.Unreachable != nil {
		t.Errorf("GET /presence/user/42 = %d %+v; want 200, online, 2 connections on [solo]", status, a)
	}
	if status, a = n.presence("/presence/user/a%2Fb"); status != 200 || *a.User != "a/b" || *a.Connections != 1 {
		t.Errorf("GET /presence/user/a%%2Fb = %d %+v; want 200, user a/b with 1 connection", status, a)
	}
	// Unknown: 200 and zero, as Centrifugo's presence_stats answers an empty channel.
	if status, a = n.presence("/presence/user/nobody"); status != 200 || *a.Online || *a.Connections != 0 || a.Nodes == nil || len(a.Nodes) != 0 {
		t.Errorf("GET /presence/user/nobody = %d %+v; want 200, offline, 0 connections, nodes []", status, a)
	}
	if status, a = n.presence("/presence/topic/news"); status != 200 || *a.Topic != "news" || *a.Subscribers != 2 || !reflect.DeepEqual(a.Nodes, []string{"solo"}) {
		t.Errorf("GET /presence/topic/news = %d %+v; want 200, 2 subscribers on [solo]", status, a)
	}
	if status, a = n.presence("/presence/topic/none"); status != 200 || *a.Subscribers != 0 || len(a.Nodes) != 0 {
		t.Errorf("GET /presence/topic/none = %d %+v; want 200, 0 subscribers", status, a)
	}
	for path, want := range map[string]string{
		"/topics":                      "news=2 news.eu=1 sport=1",
		"/topics?prefix=news":          "news=2 news.eu=1",
		"/topics?prefix=news.&limit=5": "news.eu=1",
		"/topics?limit=2":              "news=2 news.eu=1",
		"/topics?prefix=zzz":           "",
	} {
		status, a = n.presence(path)
		truncated := path == "/topics?limit=2"
		if status != 200 || a.topicsText() != want || a.Truncated == nil || *a.Truncated != truncated {
			t.Errorf("GET %s = %d %+v; want 200 with %q, truncated %v", path, status, a, want, truncated)
		}
	}

	// A connection that goes leaves the counts.
	a2.close()
	waitFor(t, 5*time.Second, "user 42 back to 1 connection after one closed", func() bool {
		_, a := n.presence("/presence/user/42")
		return *a.Connections == 1
	})
	if _, a = n.presence("/presence/topic/news"); *a.Subscribers != 1 {
		t.Errorf("GET /presence/topic/news after a close = %+v; want 1 subscriber", a)
	}

	// HEAD: the GET's head, no body.
	if r := n.do("HEAD", "/presence/user/42", ""); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") == "0" {
		t.Errorf("HEAD /presence/user/42 = %d, %d body bytes, Content-Length %q; want 200, the GET's length, no body", r.status, len(r.body), r.header.Get("Content-Length"))
	}
}

func TestPresenceBadInput(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for path, want := range map[string]int{
		"/presence/user/":                             400, // empty name
		"/presence/topic/":                            400,
		"/presence/user/a%20b":                        400, // a space: not a name
		"/presence/topic/" + strings.Repeat("x", 257): 400,
		"/topics?limit=0":                             400,
		"/topics?limit=-1":                            400,
		"/topics?limit=1001":                          400,
		"/topics?limit=ten":                           400,
		"/topics?prefix=a%20b":                        400,
		"/presence/user":                              404,
		"/presence/conn/x":                            404,
		"/presence/":                                  404,
	} {
		r := n.do("GET", path, "")
		var e struct{ Error string }
		if r.status != want || json.Unmarshal(r.body, &e) != nil || e.Error == "" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %q; want %d with a JSON error", path, r.status, r.body, want)
		}
	}
	// Bad escapes, which net/http will not send.
	for _, target := range []string{"/presence/user/%zz", "/topics?prefix=%zz"} {
		out, _ := rawExchange(t, n.api, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
		if statusOf(out) != 400 || !strings.Contains(out, `{"error":`) {
			t.Errorf("GET %s = %q; want 400 with a JSON error", target, out)
		}
	}
	if r := n.do("POST", "/presence/user/42", "x"); r.status != 405 {
		t.Errorf("POST /presence/user/42 = %d %s; want 405", r.status, r.body)
	}
	if st := n.stats(); st["connections"] < 0 {
		t.Errorf("node unhealthy after bad presence input: %v", st)
	}
}

func TestPresenceNeedsAPIToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--api-token", "s3cret")
	for _, path := range []string{"/presence/user/42", "/presence/topic/news", "/topics"} {
		if r := n.do("GET", path, ""); r.status != 401 {
			t.Errorf("GET %s without the token = %d %s; want 401", path, r.status, r.body)
		}
		if r := n.do("GET", path, "", "Authorization", "Bearer s3cret"); r.status != 200 {
			t.Errorf("GET %s with the token = %d %s; want 200", path, r.status, r.body)
		}
	}
}
