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

// Pipelined cross-node publishing (issue 17 item 2): a publisher
// connection's routed requests do not wait for each other, and the answers
// still come back in request order; each node receives a connection's
// messages in the order they were published.

// pipeReq is one request of a pipelined run: raw is the whole request.
type pipeReq struct {
	raw string
}

func pubReq(path, body string, hdr ...string) pipeReq {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", path)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return pipeReq{raw: b.String()}
}

func getReq(path string) pipeReq {
	return pipeReq{raw: "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"}
}

// pipeline writes every request on one connection to n's api listener
// before reading any answer, and returns the answers in the order they
// came. The 30 s deadline is a hang guard: a connection whose routed
// requests waited for each other would take a forward timeout per request
// to a stopped node.
func pipeline(t *testing.T, n *node, reqs []pipeReq) []answer {
	t.Helper()
	c, err := net.DialTimeout("tcp", n.api, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		for _, r := range reqs {
			if _, err := w.WriteString(r.raw); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	br := bufio.NewReader(c)
	out := make([]answer, 0, len(reqs))
	for i := range reqs {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("node %s: %d requests pipelined on one connection: answer %d: %v", n.id, len(reqs), i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer %d body: %v", i, err)
		}
		a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: body}
		json.Unmarshal(body, &a)
		out = append(out, a)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write requests: %v", err)
	}
	return out
}

// remoteAndLocal starts two nodes a and b, a stream of user remote on a and
// one of user local on b, and waits until b routes to both.
func remoteAndLocal(t *testing.T, remote, local string) (a, b *node, sa, sb *stream) {
	t.Helper()
	cl := startCluster(t, 2, 15*time.Second)
	a, b = cl.nodes[0], cl.nodes[1]
	sa = a.subscribe("user=" + remote)
	sb = b.subscribe("user=" + local)
	b.waitDelivered("user/"+remote, 1, 1, ioTimeout)
	b.waitDelivered("user/"+local, 1, 1, ioTimeout)
	return a, b, sa, sb
}

// idOrder checks that the message ids of successive answers increase: a
// node gives ids in publish order, so answers out of request order show as
// an id lower than the one before.
type idOrder struct{ last uint64 }

func (o *idOrder) next(t *testing.T, i int, a answer) {
	t.Helper()
	id, err := strconv.ParseUint(a.ID, 10, 64)
	if err != nil {
		t.Fatalf("answer %d: id %q is not a number: %v", i, a.ID, err)
	}
	if id <= o.last {
		t.Fatalf("answer %d has id %d after id %d: answers out of request order", i, id, o.last)
	}
	o.last = id
}

// alternating is pushes publishes numbered 0..pushes-1, the even ones to
// user remote, the odd ones to user local.
func alternating(pushes int, remote, local string) []pipeReq {
	reqs := make([]pipeReq, pushes)
	for i := range reqs {
		to := local
		if i%2 == 0 {
			to = remote
		}
		reqs[i] = pubReq("/pub/user/"+to, strconv.Itoa(i))
	}
	return reqs
}

// checkAlternating checks the answers to alternating: each even one as
// remoteOK says (want describes it), each odd one 200 delivered 1 in id
// order, and the local user's stream gets the odd ones in publish order.
func checkAlternating(t *testing.T, answers []answer, remoteOK func(answer) bool, want string, local *stream, to string) {
	t.Helper()
	var order idOrder
	for i, ans := range answers {
		if i%2 == 0 {
			if !remoteOK(ans) {
				t.Fatalf("answer %d (remote user): %v; want %s", i, ans, want)
			}
			continue
		}
		if ans.status != 200 || ans.Delivered != 1 {
			t.Fatalf("answer %d (local user): %v; want 200 delivered 1", i, ans)
		}
		order.next(t, i, ans)
	}
	for i := 1; i < len(answers); i += 2 {
		local.expect(to, strconv.Itoa(i))
	}
}

// TestPipelinedCrossNodeInOrder pipelines 1,200 publishes on one connection
// to node b, all to users on node a: every answer is 200 delivered 1 nodes
// 1, the answers come back in request order (the message ids node b gave
// them, in publish order, increase), and each subscriber receives its
// messages in publish order with the ids its answers named.
func TestPipelinedCrossNodeInOrder(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, 15*time.Second)
	a, b := cl.nodes[0], cl.nodes[1]
	const users, pushes = 12, 1200
	subs := make([]*stream, users)
	for u := range users {
		subs[u] = a.subscribe("user=pl" + strconv.Itoa(u))
	}
	for u := range users {
		b.waitDelivered("user/pl"+strconv.Itoa(u), 1, 1, ioTimeout)
	}
	reqs := make([]pipeReq, pushes)
	for i := range reqs {
		reqs[i] = pubReq("/pub/user/pl"+strconv.Itoa(i%users), strconv.Itoa(i))
	}
	before := b.stats()["forwards"]
	answers := pipeline(t, b, reqs)
	var order idOrder
	for i, ans := range answers {
		if ans.status != 200 || ans.Delivered != 1 || ans.Nodes != 1 {
			t.Fatalf("answer %d: %v; want 200 delivered 1 nodes 1", i, ans)
		}
		order.next(t, i, ans)
	}
	for u, s := range subs {
		for i := u; i < pushes; i += users {
			f := s.message()
			if string(f.Data) != strconv.Itoa(i) || f.ID != answers[i].ID {
				t.Fatalf("user pl%d: got message %s id %s; want %d id %s (publish order)", u, f.Data, f.ID, i, answers[i].ID)
			}
		}
	}
	if got := b.stats()["forwards"] - before; got < pushes {
		t.Errorf("node b forwarded %v pushes; want %d", got, pushes)
	}
}

// TestPipelinedMixedTargetsInOrder pipelines, on one connection to node b,
// publishes to a user on a (routed) and a user on b (local), a push to
// nobody (404 after the lookup), a bad header (400 on the loop), a batch
// and admin GETs (which wait for the answers before them): every answer
// comes back in request order with the status its request asks for, and
// both subscribers receive their messages in publish order.
func TestPipelinedMixedTargetsInOrder(t *testing.T) {
	t.Parallel()
	_, b, sa, sb := remoteAndLocal(t, "far", "near")

	type want struct {
		status    int
		delivered int
		kind      string // far, near, batch, nobody, bad, healthz, malformed
	}
	var reqs []pipeReq
	var wants []want
	add := func(r pipeReq, w want) { reqs, wants = append(reqs, r), append(wants, w) }
	for i := range 300 {
		switch i % 10 {
		case 3:
			add(pubReq("/pub/user/nobody-here", `"x"`), want{404, 0, "nobody"})
		case 5:
			add(pubReq("/pub/user/far", `"bad"`, "Push-QoS", "7"), want{400, 0, "bad"})
		case 7:
			add(pubReq("/pub", fmt.Sprintf(`{"to":"user:far","data":"b%d"}`+"\n"+`{"to":"user:near","data":"b%d"}`, i, i)), want{200, 0, "batch"})
		case 9:
			if i%30 == 9 {
				add(getReq("/healthz"), want{200, 0, "healthz"})
				break
			}
			fallthrough
		default:
			if i%2 == 0 {
				add(pubReq("/pub/user/far", strconv.Quote("f"+strconv.Itoa(i))), want{200, 1, "far"})
			} else {
				add(pubReq("/pub/user/near", strconv.Quote("n"+strconv.Itoa(i))), want{200, 1, "near"})
			}
		}
	}
	// Last, a malformed request: refused (400, then closed) after every
	// answer before it, not ahead of them.
	add(pipeReq{raw: "POST /pub/user/far HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"}, want{400, 0, "malformed"})
	answers := pipeline(t, b, reqs)
	var order idOrder
	var farWant, nearWant []string
	for i, ans := range answers {
		w := wants[i]
		if ans.status != w.status {
			t.Fatalf("answer %d (%s): %v; want status %d (answers out of order?)", i, w.kind, ans, w.status)
		}
		switch w.kind {
		case "far", "near":
			if ans.Delivered != 1 || ans.Nodes != 1 {
				t.Fatalf("answer %d (%s): %v; want delivered 1 nodes 1", i, w.kind, ans)
			}
			order.next(t, i, ans)
			var data string
			json.Unmarshal([]byte(reqs[i].raw[strings.LastIndex(reqs[i].raw, "\r\n\r\n")+4:]), &data)
			if w.kind == "far" {
				farWant = append(farWant, data)
			} else {
				nearWant = append(nearWant, data)
			}
		case "batch":
			lines := strings.Split(strings.TrimSpace(string(ans.body)), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], `"status":200`) || !strings.Contains(lines[1], `"status":200`) {
				t.Fatalf("answer %d (batch): %s; want two lines with status 200", i, ans.body)
			}
			n := strconv.Itoa(i)
			farWant, nearWant = append(farWant, "b"+n), append(nearWant, "b"+n)
		case "nobody", "bad", "malformed":
			if ans.Error == "" {
				t.Fatalf("answer %d (%s): %v; want a JSON error", i, w.kind, ans)
			}
		case "healthz":
			if !strings.Contains(string(ans.body), `"ok"`) {
				t.Fatalf("answer %d (healthz): %v", i, ans)
			}
		}
	}
	for _, c := range []struct {
		s    *stream
		to   string
		want []string
	}{{sa, "user:far", farWant}, {sb, "user:near", nearWant}} {
		for k, data := range c.want {
			f := c.s.message()
			var got string
			json.Unmarshal(f.Data, &got)
			if f.To != c.to || got != data {
				t.Fatalf("%s: message %d is %s to %s; want %q (publish order)", c.to, k, f.Data, f.To, data)
			}
		}
	}
}

// TestPipelinedToKilledNode kills node a (kill -9) and pipelines, on one
// connection to node b, publishes alternating between a user on a and a
// user on b: while a's directory entries live, those to a answer 404 naming
// a in "unreachable" (or 503 while the broken link is being noticed), those
// to b 200, every one in request order.
func TestPipelinedToKilledNode(t *testing.T) {
	t.Parallel()
	a, b, _, sb := remoteAndLocal(t, "gone", "stays")
	a.kill9()
	goneOK := func(ans answer) bool {
		return is503(ans) || ans.status == 404 && len(ans.Unreachable) == 1 && ans.Unreachable[0] == "a"
	}
	answers := pipeline(t, b, alternating(200, "gone", "stays"))
	checkAlternating(t, answers, goneOK, `404 naming a in "unreachable" (or 503)`, sb, "user:stays")
}

// TestPipelinedToStoppedNode stops node a (SIGSTOP: its link stays open and
// never answers) and pipelines, on one connection to node b, publishes that
// alternate between a user on a and a user on b: those to a answer 503 with
// a JSON error once the forward bound passes, those to b 200, every one in
// request order, and b's subscriber gets its messages in order. After a
// continues, a pipelined run to it is answered 200 again, in order.
func TestPipelinedToStoppedNode(t *testing.T) {
	t.Parallel()
	a, b, sa, sb := remoteAndLocal(t, "stalled", "here")

	a.pause()
	// 40 to a: waiting for each other, they would take 40 forward timeouts.
	answers := pipeline(t, b, alternating(80, "stalled", "here"))
	a.resume()
	checkAlternating(t, answers, is503, "503 with a JSON error", sb, "user:here")

	// a is back: its link answers again (a 503'd push may or may not have
	// reached a: 503 says "not known", so a's stream is not checked for them).
	waitUntil(t, ioTimeout, "a answering again", func() (bool, string) {
		ans := b.pub("user/stalled", `"probe"`, "Push-Event", probeEvent)
		return ans.status == 200, ans.String()
	})
	var reqs []pipeReq
	for i := range 40 {
		reqs = append(reqs, pubReq("/pub/user/stalled", strconv.Itoa(1000+i)))
	}
	for i, ans := range pipeline(t, b, reqs) {
		if ans.status != 200 || ans.Delivered != 1 {
			t.Fatalf("after a continued, answer %d: %v; want 200 delivered 1", i, ans)
		}
	}
	for {
		f := sa.message()
		if string(f.Data) == "1000" {
			break
		}
	}
	for i := 1; i < 40; i++ {
		sa.expect("user:stalled", strconv.Itoa(1000+i))
	}
}
