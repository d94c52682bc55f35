package cluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCrossNodePush publishes through node c, which holds no connection, to
// connections on a and b: every address kind, single and batch; no node
// logs a Redis failure meanwhile.
func TestCrossNodePush(t *testing.T) {
	t.Parallel()
	crossNodePush(t, startCluster(t, 3, 15*time.Second), crossNames{user: "u1", solo: "solo", topic: "t1"})
}

// crossNames are the names crossNodePush uses: a user with connections on
// nodes a and b, a user only on a, a topic subscribed on a and b.
type crossNames struct{ user, solo, topic string }

// crossNodePush is TestCrossNodePush on the 3 nodes of cl.
func crossNodePush(t *testing.T, cl *cluster, n crossNames) {
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	u, solo, tp := n.user, n.solo, n.topic

	sa := a.subscribe("user=" + u + "&topic=" + tp)
	sb := b.subscribe("user=" + u + "&topic=" + tp)
	sa2 := a.subscribe("user=" + solo)
	c.waitDelivered("user/"+u, 2, 2, ioTimeout)
	c.waitDelivered("user/"+solo, 1, 1, ioTimeout)
	c.waitDelivered("topic/"+tp, 2, 2, ioTimeout)
	c.waitDelivered("all", 3, 2, ioTimeout)

	jsonCT := []string{"Content-Type", "application/json"}

	// conn: the key names its node; c forwards to a without a lookup.
	r := c.mustPub("conn/"+sa.key, `{"n":1}`, 1, 1, jsonCT...)
	f := sa.expect("conn:"+sa.key, `{"n":1}`)
	if f.ID != r.ID {
		t.Errorf("message id on the stream %q; the publish answered id %q", f.ID, r.ID)
	}
	c.mustPub("conn/"+sb.key, `"to b"`, 1, 1, jsonCT...)
	sb.expect("conn:"+sb.key, `"to b"`)

	// user with connections on two nodes: delivered 2, nodes 2.
	c.mustPub("user/"+u, `{"n":2}`, 2, 2, jsonCT...)
	sa.expect("user:"+u, `{"n":2}`)
	sb.expect("user:"+u, `{"n":2}`)
	c.mustPub("user/"+solo, `{"n":3}`, 1, 1, jsonCT...)
	sa2.expect("user:"+solo, `{"n":3}`)

	// topic with subscribers on two nodes.
	c.mustPub("topic/"+tp, `{"n":4}`, 2, 2, jsonCT...)
	sa.expect("topic:"+tp, `{"n":4}`)
	sb.expect("topic:"+tp, `{"n":4}`)

	// all: every connection of every node; c holds none of them.
	c.mustPub("all", `{"n":5}`, 3, 2, jsonCT...)
	for _, s := range []*stream{sa, sb, sa2} {
		s.expect("all", `{"n":5}`)
	}

	// Event and non-JSON payloads survive the hop.
	c.mustPub("user/"+solo, "plain text", 1, 1, "Push-Event", "greet", "Content-Type", "text/plain")
	if f := sa2.expect("user:"+solo, `"plain text"`); f.Event != "greet" {
		t.Errorf("forwarded message event %q; want greet", f.Event)
	}

	// Nobody holds these anywhere.
	for _, to := range []string{"user/nobody", "conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.a", "conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.zz"} {
		if r := c.pub(to, "x"); r.status != 404 || r.Error == "" {
			t.Errorf("node c: POST /pub/%s = %v; want 404 with a JSON error", to, r)
		}
	}

	// Batch through c: results in input order, deliveries as for single pushes.
	res := c.batch(
		`{"to":"conn:`+sb.key+`","data":{"b":1}}`,
		`{"to":"user:`+u+`","data":{"b":2}}`,
		`{"to":"user:nobody","data":{"b":3}}`,
		`{"to":"topic:`+tp+`","data":{"b":4},"event":"ev"}`,
		`{"to":"all","data":{"b":5}}`,
		`{"to":"user:`+solo+`","data":{"b":6}}`,
	)
	want := []struct{ status, delivered, nodes int }{
		{200, 1, 1}, {200, 2, 2}, {404, 0, 0}, {200, 2, 2}, {200, 3, 2}, {200, 1, 1},
	}
	for i, w := range want {
		g := res[i]
		if g.status != w.status || g.Delivered != w.delivered || g.Nodes != w.nodes {
			t.Errorf("batch through c, line %d: %s; want status %d delivered %d nodes %d", i, g.body, w.status, w.delivered, w.nodes)
		}
		if w.status == 200 && g.ID == "" {
			t.Errorf("batch through c, line %d: %s has no id", i, g.body)
		}
		if w.status == 404 && g.Error == "" {
			t.Errorf("batch through c, line %d: %s has no error", i, g.body)
		}
	}
	sb.expect("conn:"+sb.key, `{"b":1}`)
	sb.expect("user:"+u, `{"b":2}`)
	if f := sb.expect("topic:"+tp, `{"b":4}`); f.Event != "ev" {
		t.Errorf("batch topic message event %q; want ev", f.Event)
	}
	sb.expect("all", `{"b":5}`)
	sa.expect("user:"+u, `{"b":2}`)
	sa.expect("topic:"+tp, `{"b":4}`)
	sa.expect("all", `{"b":5}`)
	sa2.expect("all", `{"b":5}`)
	sa2.expect("user:"+solo, `{"b":6}`)

	// The hops show in /stats: c forwarded, a and b took forwards.
	if st := c.stats(); st["forwards"] < 10 || st["connections"] != 0 {
		t.Errorf("node c /stats: forwards %v connections %v; want ≥ 10 forwards and 0 connections", st["forwards"], st["connections"])
	}
	for _, n := range []*node{a, b} {
		if st := n.stats(); st["forwards_received"] < 5 {
			t.Errorf("node %s /stats: forwards_received %v; want ≥ 5", n.id, st["forwards_received"])
		}
	}
	noRedisTrouble(t, cl.nodes...)
}

// TestMessageIDsIncreaseAcrossNodes: a user who gets pushes taken by
// different nodes still sees increasing ids (so since= keeps its meaning).
func TestMessageIDsIncreaseAcrossNodes(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, 15*time.Second)
	s := cl.nodes[0].subscribe("user=ids")
	for _, n := range cl.nodes {
		n.waitDelivered("user/ids", 1, 1, ioTimeout)
	}
	var last uint64
	for i := range 30 {
		n := cl.nodes[i%3]
		n.mustPub("user/ids", strconv.Itoa(i), 1, 1, "Content-Type", "application/json")
		f := s.expect("user:ids", strconv.Itoa(i))
		id, err := strconv.ParseUint(f.ID, 10, 64)
		if err != nil {
			t.Fatalf("message id %q is not a number", f.ID)
		}
		if id <= last {
			t.Fatalf("push %d through node %s: id %d after %d; want increasing ids", i, n.id, id, last)
		}
		last = id
	}
}

// TestOrderThroughAnotherNode sends 2,000 pushes on one publisher
// connection to node b, pipelined up to 64 deep (about 7 KiB in flight), to
// a subscriber on node a: every one must be answered 200 delivered 1 and
// they must arrive in publish order (SPEC §5).
func TestOrderThroughAnotherNode(t *testing.T) {
	t.Parallel()
	pipelinedPushes(t, 2000, 64, 1)
}

// TestDeepPipelineThroughAnotherNode writes all 2,000 pushes at once
// (about 200 KiB) before reading an answer, as a publisher that relies on
// TCP flow control does. Standalone this works; through another node every
// push must still be answered, in order.
func TestDeepPipelineThroughAnotherNode(t *testing.T) {
	t.Parallel()
	pipelinedPushes(t, 2000, 2000, 1)
}

// TestDeepPipelineSameNode is the deep pipeline to a subscriber on the
// publishing node itself: in cluster mode a user push may need other nodes,
// so it too is answered after a directory lookup.
func TestDeepPipelineSameNode(t *testing.T) {
	t.Parallel()
	pipelinedPushes(t, 2000, 2000, 0)
}

// pipelinedPushes publishes pushes numbered 0..pushes-1 to user:ord on one
// connection to node nodes[via] with at most window unanswered, and checks
// the answers and the order the subscriber on node a sees.
func pipelinedPushes(t *testing.T, pushes, window, via int) {
	cl := startCluster(t, 3, 15*time.Second)
	a, b := cl.nodes[0], cl.nodes[via]
	s := a.subscribe("user=ord")
	b.waitDelivered("user/ord", 1, 1, ioTimeout)

	pc, err := net.DialTimeout("tcp", b.api, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(60 * time.Second))
	slots := make(chan struct{}, window)
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(pc, 32<<10)
		for i := range pushes {
			select {
			case slots <- struct{}{}:
			default:
				if err := w.Flush(); err != nil {
					writeErr <- err
					return
				}
				slots <- struct{}{}
			}
			body := strconv.Itoa(i)
			fmt.Fprintf(w, "POST /pub/user/ord HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
		writeErr <- w.Flush()
	}()

	got := make(chan error, 1)
	go func() {
		for i := range pushes {
			f, err := s.nextMessage(30 * time.Second)
			if err != nil {
				got <- fmt.Errorf("after %d messages: %w", i, err)
				return
			}
			if f.To != "user:ord" || string(f.Data) != strconv.Itoa(i) {
				got <- fmt.Errorf("message %d: to %q data %s; want user:ord data %d (order broken)", i, f.To, f.Data, i)
				return
			}
		}
		got <- nil
	}()

	br := bufio.NewReader(pc)
	var bad []string
	for i := range pushes {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%d pushes pipelined up to %d deep on one connection to node %s: answer %d: %v", pushes, window, b.id, i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer %d body: %v", i, err)
		}
		<-slots
		var ans answer
		jerr := json.Unmarshal(body, &ans)
		if resp.StatusCode != 200 || jerr != nil || ans.Delivered != 1 || ans.Nodes != 1 {
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("push %d: %d %s", i, resp.StatusCode, body))
			}
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("write pushes: %v", err)
	}
	if len(bad) > 0 {
		t.Errorf("pushes through %s not answered 200 delivered 1 nodes 1, e.g.:\n%s", b.id, strings.Join(bad, "\n"))
	}
	if err := <-got; err != nil {
		t.Fatalf("subscriber on a: %v", err)
	}
	if st := b.stats(); b != a && st["forwards"] < float64(pushes) {
		t.Errorf("node %s /stats forwards %v; want ≥ %d", b.id, st["forwards"], pushes)
	}
}
