package cluster_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Server-side subscriptions and the per-user connection policy across three
// nodes and one Redis.

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

func (c changes) String() string {
	return fmt.Sprintf("%d connections=%d changed=%d conns=%v forbidden=%v unreachable=%v error=%q",
		c.status, c.Connections, c.Changed, c.Conns, c.Forbidden, c.Unreachable, c.Error)
}

// change calls method on /subscriptions/<path> of n.
func (n *node) change(method, path string) changes {
	n.t.Helper()
	a, err := n.try(ioTimeout, method, "/subscriptions/"+path, "")
	if err != nil {
		n.t.Fatalf("node %s: %s /subscriptions/%s: %v", n.id, method, path, err)
	}
	var c changes
	if err := json.Unmarshal(a.body, &c); err != nil {
		n.t.Fatalf("node %s: %s /subscriptions/%s = %v: not JSON: %v", n.id, method, path, a, err)
	}
	c.status = a.status
	return c
}

// kicked reads s up to its kicked control packet, then requires its end.
func (s *stream) kicked() {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		line, err := s.body.ReadBytes('\n')
		if err != nil {
			s.t.Fatalf("node %s stream %s: %v before the kicked packet", s.node, s.key, err)
		}
		var p struct {
			Protocol int    `json:"protocol"`
			Cmd      string `json:"cmd"`
		}
		if json.Unmarshal(line, &p) == nil && p.Protocol == 3 && p.Cmd == "kicked" {
			break
		}
	}
	if line, err := s.body.ReadBytes('\n'); err == nil {
		s.t.Fatalf("node %s stream %s: %q after the kicked packet; want the stream's end", s.node, s.key, line)
	}
}

// TestServerSideSubscriptionsCluster: a user's streams on nodes a and b get
// a topic through node c; the directory follows (a publish to the topic
// through any node reaches both; presence counts them); DELETE through a
// takes it away again; a conn key reaches its own node; a stopped node is
// named unreachable.
func TestServerSideSubscriptionsCluster(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 30*time.Second)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	sa, sb := a.subscribe("user=42"), b.subscribe("user=42")
	other := c.subscribe("user=9")
	waitUntil(t, ioTimeout, "user 42 on a and b in the directory", func() (bool, string) {
		p := c.presence("/presence/user/42")
		return p.Connections == 2, p.String()
	})

	got := c.change("POST", "user/42?topic=room")
	keys := []string{sa.key, sb.key}
	slices.Sort(keys)
	if got.status != 200 || got.Connections != 2 || got.Changed != 2 || !slices.Equal(got.Conns, keys) {
		t.Fatalf("POST /subscriptions/user/42?topic=room via c = %v; want 200, 2 connections changed: %v", got, keys)
	}
	c.waitDelivered("topic/room", 2, 2, ioTimeout)
	c.mustPub("topic/room", "hello", 2, 2)
	sa.expect("topic:room", `"hello"`)
	sb.expect("topic:room", `"hello"`)
	if p := a.presence("/presence/topic/room"); p.Subscribers != 2 || !slices.Equal(p.Nodes, []string{"a", "b"}) {
		t.Errorf("presence of room = %v; want 2 subscribers on a and b", p)
	}

	// A conn key on another node: only that stream.
	if got := c.change("POST", "conn/"+sb.key+"?topic=only.b"); got.status != 200 || got.Connections != 1 || !slices.Equal(got.Conns, []string{sb.key}) {
		t.Fatalf("POST /subscriptions/conn/<b's key> via c = %v; want 200 with b's stream", got)
	}
	a.waitDelivered("topic/only.b", 1, 1, ioTimeout)

	// DELETE through a: nobody has room any more.
	if got := a.change("DELETE", "user/42?topic=room"); got.status != 200 || got.Connections != 2 || got.Changed != 2 {
		t.Fatalf("DELETE /subscriptions/user/42?topic=room via a = %v; want 200, 2 connections changed", got)
	}
	waitUntil(t, ioTimeout, "topic room unregistered everywhere", func() (bool, string) {
		p := c.presence("/presence/topic/room")
		return p.Subscribers == 0 && len(p.Nodes) == 0, p.String()
	})
	if r := c.pub("topic/room", `"gone"`, "Content-Type", "application/json"); r.status != 200 || r.Delivered != 0 {
		t.Errorf("publish to room after the DELETE = %v; want 200 delivered 0", r)
	}
	c.mustPub("user/42", "marker", 2, 2)
	sa.expect("user:42", `"marker"`)
	sb.expect("user:42", `"marker"`)

	// Unknown user and key: 404 from every node.
	if got := c.change("POST", "user/nobody?topic=x"); got.status != 404 {
		t.Errorf("POST for a user with no stream = %v; want 404", got)
	}
	gone := sa.key[:strings.IndexByte(sa.key, '.')] + ".b"
	if got := c.change("POST", "conn/"+gone+"?topic=x"); got.status != 404 {
		t.Errorf("POST for a key b does not hold = %v; want 404", got)
	}

	// b stops: named unreachable, a's stream still changed.
	b.pause()
	got = c.change("POST", "user/42?topic=late")
	b.resume()
	if got.status != 200 || got.Connections != 1 || !slices.Equal(got.Unreachable, []string{"b"}) {
		t.Errorf("POST via c while b is stopped = %v; want 200, a's stream changed, unreachable [b]", got)
	}
	other.conn.Close()
	noRedisTrouble(t, a, b, c)
}

// TestUserPolicyClusterRefuseRace: --max-conns-per-user 2 under refuse on
// three nodes; 30 subscribes of one user arrive at once, 10 on each node:
// exactly 2 start (the Redis script orders them), the rest are 409 before
// their stream starts, and after a heartbeat interval the 2 still hold and
// presence counts 2. A stream that ends makes room on another node.
func TestUserPolicyClusterRefuseRace(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 30*time.Second, "--max-conns-per-user", "2", "--user-conn-policy", "refuse", "--heartbeat", "1s")
	var mu sync.Mutex
	var held []*stream
	refused, other := 0, map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 30 {
		n := cl.nodes[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := openStream(n.edge, "user=race&topic=t", 4096)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				s.t, s.node = t, n.id
				held = append(held, s)
			case strings.Contains(err.Error(), "status 409") && strings.Contains(err.Error(), `"error":`):
				refused++
			default:
				other[err.Error()]++
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range held {
			s.conn.Close()
		}
	})
	if len(held) != 2 || refused != 28 || len(other) > 0 {
		t.Fatalf("30 subscribes of one user at once on 3 nodes: %d started, %d refused 409, others %v; want 2 and 28", len(held), refused, other)
	}
	time.Sleep(1500 * time.Millisecond) // a heartbeat interval and more
	for _, s := range held {
		s.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		if f, err := s.read(); err != nil || f.Protocol != 0 {
			t.Errorf("node %s stream %s after a heartbeat interval: %+v, %v; want a heartbeat (still open)", s.node, s.key, f, err)
		}
	}
	if p := cl.nodes[0].presence("/presence/user/race"); p.Connections != 2 {
		t.Errorf("presence of user race = %v; want 2 connections", p)
	}

	// One ends: a new one may start, on a node that held none of them.
	ended := held[0]
	ended.conn.Close()
	var free *node
	for _, n := range cl.nodes {
		if n.id != held[0].node && n.id != held[1].node {
			free = n
		}
	}
	if free == nil {
		free = cl.nodes[0]
	}
	waitUntil(t, ioTimeout, "room for a new stream after one ended", func() (bool, string) {
		s, err := openStream(free.edge, "user=race", 4096)
		if err != nil {
			return false, err.Error()
		}
		held = append(held, s)
		return true, ""
	})
	noRedisTrouble(t, cl.nodes...)
}

// TestUserPolicyClusterOldestOut: with --max-conns-per-user 1 (oldest-out,
// the default), a user's new stream on another node kicks the previous one
// over the node link: it gets the kicked packet and ends; an HTTP/2 stream
// is admitted through Redis and kicked the same way.
func TestUserPolicyClusterOldestOut(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 30*time.Second, "--max-conns-per-user", "1")
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	s1 := a.subscribe("user=7")
	s2 := b.subscribe("user=7")
	s1.kicked()
	s3 := c.subscribeH2("user=7") // an HTTP/2 stream waits for Redis as a connection does
	s2.kicked()
	s4 := a.subscribe("user=7")
	s3.kicked() // its stream ends alone
	waitUntil(t, ioTimeout, "user 7 with one stream, on a", func() (bool, string) {
		p := b.presence("/presence/user/7")
		return p.Connections == 1 && slices.Equal(p.Nodes, []string{"a"}), p.String()
	})
	c.mustPub("user/7", "last", 1, 1)
	s4.expect("user:7", `"last"`)
	for _, n := range []*node{a, b, c} {
		if st := n.stats(); st["user_conns_kicked"] != 1 {
			t.Errorf("node %s user_conns_kicked = %v; want 1", n.id, st["user_conns_kicked"])
		}
	}
	noRedisTrouble(t, cl.nodes...)
}

// TestServerSideSubscriptionsAuthCluster: with --jwt-secret on every node, a
// topic the user's tokens do not allow is refused on every node that holds
// a stream of the user (403, both named in "forbidden"); force=1 adds it on
// both, and a publish through the third node reaches both.
func TestServerSideSubscriptionsAuthCluster(t *testing.T) {
	t.Parallel()
	const secret = "cluster-secret"
	cl := startCluster(t, 3, 30*time.Second, "--jwt-secret", secret)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "42", "topics": []string{"news.*"}, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := a.subscribe("token="+tok), b.subscribe("token="+tok)
	waitUntil(t, ioTimeout, "user 42 on a and b in the directory", func() (bool, string) {
		p := c.presence("/presence/user/42")
		return p.Connections == 2, p.String()
	})
	keys := []string{sa.key, sb.key}
	slices.Sort(keys)
	if got := c.change("POST", "user/42?topic=secret"); got.status != 403 || got.Connections != 0 || !slices.Equal(got.Forbidden, keys) {
		t.Fatalf("POST a topic the tokens do not allow, via c = %v; want 403 naming both streams", got)
	}
	if got := c.change("POST", "user/42?topic=news.eu"); got.status != 200 || got.Changed != 2 {
		t.Errorf("POST a topic the tokens allow, via c = %v; want 200, 2 changed", got)
	}
	if got := c.change("POST", "user/42?topic=secret&force=1"); got.status != 200 || got.Changed != 2 {
		t.Fatalf("POST the same with force=1, via c = %v; want 200, 2 changed", got)
	}
	c.waitDelivered("topic/secret", 2, 2, ioTimeout)
	c.mustPub("topic/secret", "forced", 2, 2)
	sa.expect("topic:secret", `"forced"`)
	sb.expect("topic:secret", `"forced"`)
	noRedisTrouble(t, cl.nodes...)
}
