package cluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// presence is the union of the presence answers' fields (SPEC §9).
type presence struct {
	status      int
	Online      bool     `json:"online"`
	Connections int      `json:"connections"`
	Subscribers int      `json:"subscribers"`
	Nodes       []string `json:"nodes"`
	Topics      []struct {
		Topic       string `json:"topic"`
		Subscribers int    `json:"subscribers"`
	} `json:"topics"`
	Truncated   bool     `json:"truncated"`
	Unreachable []string `json:"unreachable"`
	Error       string   `json:"error"`
}

// String is what the assertions compare: the count, the nodes, the topics,
// unreachable and the status.
func (p presence) String() string {
	var ts []string
	for _, t := range p.Topics {
		ts = append(ts, fmt.Sprintf("%s=%d", t.Topic, t.Subscribers))
	}
	return fmt.Sprintf("%d online=%v conns=%d subs=%d nodes=%v topics=[%s] truncated=%v unreachable=%v",
		p.status, p.Online, p.Connections, p.Subscribers, p.Nodes, strings.Join(ts, " "), p.Truncated, p.Unreachable)
}

// presence asks n for path; a hang (no answer within ioTimeout) fails the test.
func (n *node) presence(path string) presence {
	n.t.Helper()
	resp, err := n.client.Get("http://" + n.api + path) // n.client's Timeout is ioTimeout
	if err != nil {
		n.t.Fatalf("node %s: GET %s: %v", n.id, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("node %s: GET %s: read body: %v", n.id, path, err)
	}
	var p presence
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		n.t.Fatalf("node %s: GET %s: Content-Type %q; want application/json", n.id, path, ct)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		n.t.Fatalf("node %s: GET %s = %d %q: not JSON: %v", n.id, path, resp.StatusCode, body, err)
	}
	p.status = resp.StatusCode
	return p
}

// TestPresenceCluster: users and topics on three nodes with one Redis are counted whole
// from every node; a stopped node (SIGSTOP) is named unreachable within the query's bound,
// and counted again once it runs.
func TestPresenceCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	a.subscribe("user=42&topic=news")
	a.subscribe("user=42&topic=sport")
	b.subscribe("user=42&topic=news&topic=news.eu")
	b.subscribe("user=9&topic=news")
	cc.subscribe("user=7&topic=news&topic=news.eu")
	cc.subscribe("user=7&topic=weather")

	// Registrations reach the directory after the subscribe is answered.
	waitUntil(t, ioTimeout, "user 42: 3 connections, topic news: 4 subscribers", func() (bool, string) {
		u, tp := a.presence("/presence/user/42"), cc.presence("/presence/topic/news")
		return u.Connections == 3 && tp.Subscribers == 4, u.String() + " / " + tp.String()
	})
	want := map[string]string{
		"/presence/user/42":            "200 online=true conns=3 subs=0 nodes=[a b] topics=[] truncated=false unreachable=[]",
		"/presence/user/7":             "200 online=true conns=2 subs=0 nodes=[c] topics=[] truncated=false unreachable=[]",
		"/presence/user/nobody":        "200 online=false conns=0 subs=0 nodes=[] topics=[] truncated=false unreachable=[]",
		"/presence/topic/news":         "200 online=false conns=0 subs=4 nodes=[a b c] topics=[] truncated=false unreachable=[]",
		"/presence/topic/news.eu":      "200 online=false conns=0 subs=2 nodes=[b c] topics=[] truncated=false unreachable=[]",
		"/presence/topic/none":         "200 online=false conns=0 subs=0 nodes=[] topics=[] truncated=false unreachable=[]",
		"/topics":                      "200 online=false conns=0 subs=0 nodes=[] topics=[news=4 news.eu=2 sport=1 weather=1] truncated=false unreachable=[]",
		"/topics?prefix=news":          "200 online=false conns=0 subs=0 nodes=[] topics=[news=4 news.eu=2] truncated=false unreachable=[]",
		"/topics?prefix=news.&limit=9": "200 online=false conns=0 subs=0 nodes=[] topics=[news.eu=2] truncated=false unreachable=[]",
		"/topics?limit=2":              "200 online=false conns=0 subs=0 nodes=[] topics=[news=4 news.eu=2] truncated=true unreachable=[]",
	}
	for _, n := range c.nodes {
		waitUntil(t, ioTimeout, "every answer whole on node "+n.id, func() (bool, string) {
			for path, w := range want {
				if got := n.presence(path).String(); got != w {
					return false, fmt.Sprintf("GET %s = %s; want %s", path, got, w)
				}
			}
			return true, ""
		})
	}

	// Node c stops: it holds its links open and answers nothing.
	cc.pause()
	stopped := true
	defer func() {
		if stopped {
			cc.resume()
		}
	}()
	for path, w := range map[string]string{
		"/presence/user/42":    "200 online=true conns=3 subs=0 nodes=[a b] topics=[] truncated=false unreachable=[]",
		"/presence/topic/news": "200 online=false conns=0 subs=3 nodes=[a b] topics=[] truncated=false unreachable=[c]",
		"/topics?prefix=news":  "200 online=false conns=0 subs=0 nodes=[] topics=[news=3 news.eu=1] truncated=false unreachable=[c]",
		// Only c holds user 7: nobody that may hold it answered.
		"/presence/user/7": "503 online=false conns=0 subs=0 nodes=[] topics=[] truncated=false unreachable=[c]",
	} {
		for _, n := range []*node{a, b} {
			p := n.presence(path)
			if got := p.String(); got != w {
				t.Errorf("node %s with c stopped: GET %s = %s; want %s", n.id, path, got, w)
			}
			if p.status == 503 && p.Error == "" {
				t.Errorf("node %s with c stopped: GET %s = 503 without a JSON error", n.id, path)
			}
		}
	}
	// Pushes still flow while presence queries wait on the stopped node.
	a.mustPub("user/9", `"x"`, 1, 1)

	cc.resume()
	stopped = false
	waitUntil(t, ioTimeout, "c counted again after SIGCONT", func() (bool, string) {
		p := a.presence("/presence/topic/news")
		return p.String() == want["/presence/topic/news"], p.String()
	})

	// Node c is killed: its link is refused, so it holds nothing; it is named
	// while its heartbeat lasts (--node-ttl), and user 7 is offline, not 503.
	cc.kill9()
	waitUntil(t, ioTimeout, "user 7 offline with c named, once c's link is refused", func() (bool, string) {
		p := a.presence("/presence/user/7")
		return p.String() == "200 online=false conns=0 subs=0 nodes=[] topics=[] truncated=false unreachable=[c]", p.String()
	})
	if p := b.presence("/presence/user/42"); p.Connections != 3 || !slices.Equal(p.Nodes, []string{"a", "b"}) {
		t.Errorf("node b with c killed: GET /presence/user/42 = %s; want 3 connections on [a b]", p)
	}
	noRedisTrouble(t, a, b)
}

// TestPresenceClusterFollowsCloses: a connection that goes on one node leaves the counts
// every node gives, and a user whose last connection went is offline everywhere.
func TestPresenceClusterFollowsCloses(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second)
	a, b := c.nodes[0], c.nodes[1]
	s1 := a.subscribe("user=5&topic=room")
	s2 := b.subscribe("user=5&topic=room")
	waitUntil(t, ioTimeout, "user 5 on a and b", func() (bool, string) {
		p := c.nodes[2].presence("/presence/user/5")
		return p.Connections == 2 && slices.Equal(p.Nodes, []string{"a", "b"}), p.String()
	})
	s1.conn.Close()
	waitUntil(t, ioTimeout, "user 5 on b alone", func() (bool, string) {
		p := c.nodes[2].presence("/presence/user/5")
		return p.Connections == 1 && slices.Equal(p.Nodes, []string{"b"}), p.String()
	})
	s2.conn.Close()
	for _, n := range c.nodes {
		waitUntil(t, ioTimeout, "user 5 offline and topic room empty on node "+n.id, func() (bool, string) {
			u, r := n.presence("/presence/user/5"), n.presence("/presence/topic/room")
			return u.status == 200 && !u.Online && u.Connections == 0 && r.Subscribers == 0 && len(r.Nodes) == 0, u.String() + " / " + r.String()
		})
	}
	noRedisTrouble(t, c.nodes...)
}

// TestPresenceRedisDown: with Redis gone the directory cannot say which
// nodes hold a user: a presence query answers 503 with a JSON error, never
// hangs; when Redis is back the answers are whole again with no restart.
func TestPresenceRedisDown(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, 30*time.Second)
	a, b := c.nodes[0], c.nodes[1]
	b.subscribe("user=rd&topic=rd")
	waitUntil(t, ioTimeout, "user rd on b, seen from a", func() (bool, string) {
		p := a.presence("/presence/user/rd")
		return p.Connections == 1, p.String()
	})
	c.redis.stop()
	waitUntil(t, ioTimeout, "503 with a JSON error from a while Redis is down", func() (bool, string) {
		p := a.presence("/presence/user/rd")
		return p.status == 503 && strings.Contains(p.Error, "directory unavailable"), p.String() + " error=" + p.Error
	})
	c.redis.start()
	waitUntil(t, 3*ioTimeout, "user rd counted again once Redis is back", func() (bool, string) {
		p := a.presence("/presence/user/rd")
		return p.status == 200 && p.Connections == 1 && slices.Equal(p.Nodes, []string{"b"}), p.String()
	})
}
