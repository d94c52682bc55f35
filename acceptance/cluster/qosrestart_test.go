package cluster_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// QoS 1 across Redis restarts and directory gaps (issue 9): a message
// answered 200 or 202 is never lost while Redis keeps what it stored, and an
// ack never removes what the acking connection was not sent.

// qosPub is one QoS 1 publish and its answer.
type qosPub struct {
	seq int // the publisher's count, also the message's data
	ans answer
	err error
}

func (p qosPub) ok() bool { return p.err == nil && (p.ans.status == 200 || p.ans.status == 202) }

// publishQoS publishes QoS 1 message seq (data: the number) to user through n.
func publishQoS(n *node, user string, seq int) qosPub {
	a, err := n.try(hangLimit, "POST", "/pub/user/"+user, strconv.Itoa(seq), "Push-QoS", "1", "Content-Type", "application/json")
	return qosPub{seq: seq, ans: a, err: err}
}

// received is what a QoS 1 subscriber read: message frames in order.
type received struct {
	mu     sync.Mutex
	frames []frame
	err    error
	acks   []string // the /ack answers
}

func (r *received) snapshot() ([]frame, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]frame(nil), r.frames...), r.err
}

// ackAnswers returns the /ack answers so far: the reader may still be
// acknowledging after the test closed its stream.
func (r *received) ackAnswers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.acks...)
}

// readAcking reads s's messages until it fails (the test closes it), and
// every ackEvery messages acknowledges the last id read on s's node, as a
// client that acks cumulatively does.
func readAcking(s *stream, edge string, ackEvery int, r *received) {
	n := 0
	for {
		f, err := s.nextMessage(time.Hour)
		r.mu.Lock()
		if err != nil {
			r.err = err
			r.mu.Unlock()
			return
		}
		r.frames = append(r.frames, f)
		r.mu.Unlock()
		if n++; ackEvery > 0 && n%ackEvery == 0 {
			a := ack(edge, s.key, f.ID)
			r.mu.Lock()
			r.acks = append(r.acks, a)
			r.mu.Unlock()
		}
	}
}

// ack posts /ack?conn=key&id=id to edge and returns "<status> <body>".
func ack(edge, key, id string) string {
	resp, err := http.Post("http://"+edge+"/ack?conn="+key+"&id="+id, "text/plain", nil)
	if err != nil {
		return "error " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
}

// checkQoSDelivery requires every publish answered 200/202 among pubs to be
// in frames, and frames to be in id order with no message twice unless
// flagged as a resend. Messages answered otherwise may or may not come
// (a 503 says the outcome is unknown), but also in order.
func checkQoSDelivery(t *testing.T, pubs []qosPub, frames []frame) {
	t.Helper()
	got := map[string]int{}
	var last uint64
	for i, f := range frames {
		id, err := strconv.ParseUint(f.ID, 10, 64)
		if err != nil {
			t.Fatalf("frame %d has id %q: %v", i, f.ID, err)
		}
		got[f.ID]++
		if f.Resend {
			continue
		}
		if id <= last {
			t.Errorf("frame %d (data %s, id %d) after id %d: out of order, or a second copy not flagged as a resend", i, f.Data, id, last)
		}
		last = id
	}
	missing := 0
	for _, p := range pubs {
		if p.ok() && got[p.ans.ID] == 0 {
			if missing++; missing <= 10 {
				t.Errorf("message %d answered %v was never received", p.seq, p.ans)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d messages answered 200/202 were never received (of %d published, %d frames read)", missing, len(pubs), len(frames))
	}
}

// waitReceived waits until every publish answered 200/202 is among r's frames.
func waitReceived(t *testing.T, r *received, pubs []qosPub, within time.Duration) []frame {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		frames, err := r.snapshot()
		have := map[string]bool{}
		for _, f := range frames {
			have[f.ID] = true
		}
		missing := 0
		for _, p := range pubs {
			if p.ok() && !have[p.ans.ID] {
				missing++
			}
		}
		if missing == 0 || err != nil || time.Now().After(deadline) {
			if err != nil && missing > 0 {
				t.Errorf("subscriber stream ended: %v", err)
			}
			return frames
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countStatus(pubs []qosPub) string {
	c := map[string]int{}
	for _, p := range pubs {
		if p.err != nil {
			c["error"]++
		} else {
			c[strconv.Itoa(p.ans.status)]++
		}
	}
	return fmt.Sprint(c)
}

// TestQoS1RedisRestartOnline is the scenario: user U streams from
// node a and acks every 20 messages; a publisher sends QoS 1 messages to U
// through node b, one after the other; Redis is killed and restarted on the
// same port (empty) midway. Every message answered 200 or 202 reaches U's
// live stream, in order, once (or flagged as a resend) — including those b
// stored and answered 202 while a had not re-registered U yet.
func TestQoS1RedisRestartOnline(t *testing.T) {
	t.Parallel()
	redisRestartOnline(t, false)
}

// TestQoS1RedisRestartSlowNode is TestQoS1RedisRestartOnline with node a
// stopped (SIGSTOP) across the restart and for a moment after it, so that b
// surely answers 202 for a while: a re-registers only when it runs again,
// and must then replay those messages to the stream, before newer ones.
func TestQoS1RedisRestartSlowNode(t *testing.T) {
	t.Parallel()
	redisRestartOnline(t, true)
}

func redisRestartOnline(t *testing.T, pauseA bool) {
	redisRestartOnlineVia(t, pauseA, (*node).subscribe)
}

// redisRestartOnlineVia is redisRestartOnline with the stream opened by
// subscribe (HTTP/1.1, or HTTP/2: h2_test.go).
func redisRestartOnlineVia(t *testing.T, pauseA bool, subscribe func(n *node, query string) *stream) {
	cl := startCluster(t, 3, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	s := subscribe(a, "user=online")
	b.waitDelivered("user/online", 1, 1, ioTimeout)
	r := &received{}
	go readAcking(s, a.edge, 20, r)

	var mu sync.Mutex
	var pubs []qosPub
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := 0; ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			p := publishQoS(b, "online", seq)
			mu.Lock()
			pubs = append(pubs, p)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	answered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(pubs)
	}
	waitUntil(t, ioTimeout, "150 publishes answered before the restart", func() (bool, string) {
		return answered() >= 150, fmt.Sprintf("%d answered", answered())
	})
	if pauseA {
		a.pause()
	}
	cl.redis.stop()
	time.Sleep(200 * time.Millisecond)
	cl.redis.start()
	back := answered()
	if pauseA {
		waitUntil(t, 2*ioTimeout, "b answering 202 while a is stopped", func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, p := range pubs[back:] {
				if p.err == nil && p.ans.status == 202 {
					n++
				}
			}
			return n >= 20, fmt.Sprintf("%d answered 202", n)
		})
		a.resume()
	}
	waitUntil(t, 2*ioTimeout, "300 publishes answered after the restart", func() (bool, string) {
		return answered() >= back+300, fmt.Sprintf("%d answered after the restart", answered()-back)
	})
	close(stop)
	<-done

	frames := waitReceived(t, r, pubs, ioTimeout)
	s.conn.Close()
	acks := r.ackAnswers()
	t.Logf("publishes: %s; frames read: %d; acks: %d", countStatus(pubs), len(frames), len(acks))
	if n := len(pubs[back:]); countOK(pubs[back:]) < n/2 {
		t.Errorf("only %d of the %d publishes after the restart answered 200/202: %s; want the cluster to heal", countOK(pubs[back:]), n, countStatus(pubs[back:]))
	}
	checkQoSDelivery(t, pubs, frames)
	for _, ans := range acks {
		if !strings.HasPrefix(ans, "200 ") && !strings.HasPrefix(ans, "503 ") {
			t.Errorf("an ack was answered %q; want 200 (or 503 while Redis is down)", ans)
		}
	}
}

func countOK(pubs []qosPub) int {
	n := 0
	for _, p := range pubs {
		if p.ok() {
			n++
		}
	}
	return n
}

// TestQoS1RedisRestartOffline: the subscriber is offline across the restart.
// What is stored after Redis is back is replayed, in order, when the user
// reconnects (to another node).
func TestQoS1RedisRestartOffline(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3, testNodeTTL)
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	s := a.subscribe("user=offline")
	b.waitDelivered("user/offline", 1, 1, ioTimeout)
	s.conn.Close()
	cl.redis.stop()
	time.Sleep(100 * time.Millisecond)
	cl.redis.start()

	var pubs []qosPub
	stored := 0
	deadline := time.Now().Add(ioTimeout)
	for stored < 20 {
		p := publishQoS(b, "offline", len(pubs))
		pubs = append(pubs, p)
		switch {
		case p.err != nil:
			t.Fatalf("publish %d: %v", p.seq, p.err)
		case p.ans.status == 202:
			stored++
		case p.ans.status == 200:
			t.Fatalf("publish %d to the offline user = %v; want 202 (or 503 while Redis comes back)", p.seq, p.ans)
		case time.Now().After(deadline):
			t.Fatalf("publishes still answered %v %v after Redis restarted", p.ans, countStatus(pubs))
		}
	}
	s2 := c.subscribe("user=offline")
	r := &received{}
	go readAcking(s2, c.edge, 0, r)
	frames := waitReceived(t, r, pubs, ioTimeout)
	s2.conn.Close()
	checkQoSDelivery(t, pubs, frames)
	for _, f := range frames {
		if f.Resend {
			t.Errorf("message %s flagged as a resend; want none: it was never sent", f.ID)
		}
	}
}

// TestQoS1PublishRacesRegistration: QoS 1 publishes through b start the
// moment a user's stream opens on a, while a's registration of the user is
// still on its way to Redis; the first ones find nobody and are answered
// 202. The stream reads the store only after its registration is written,
// so it gets every one of them, in order, once.
func TestQoS1PublishRacesRegistration(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	for round := range 8 {
		user := "race" + strconv.Itoa(round)
		start := make(chan struct{})
		var pubs []qosPub
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-start
			for seq := range 30 {
				pubs = append(pubs, publishQoS(b, user, seq))
			}
		}()
		s, err := openStreamNotify(a.edge, "user="+user, 4096, start)
		if err != nil {
			t.Fatalf("subscribe %s: %v", user, err)
		}
		r := &received{}
		go readAcking(s, a.edge, 0, r)
		<-done
		frames := waitReceived(t, r, pubs, ioTimeout)
		s.conn.Close()
		if testing.Verbose() {
			t.Logf("%s: %s", user, countStatus(pubs))
		}
		checkQoSDelivery(t, pubs, frames)
		if t.Failed() {
			return
		}
	}
}

// TestQoS1AckOnlyWhatWasSent: a cumulative ack removes only the stored
// messages its connection was sent. User U streams from a and gets m1; U's
// directory entry then goes missing (deleted here, as a TTL expiry or a lost
// write would), so m2, published through b, is stored and answered 202 but
// never sent to the stream. An ack of m2's id (and of a later one) on that
// stream removes m1 only; m2 is replayed when U reconnects.
func TestQoS1AckOnlyWhatWasSent(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	s := a.subscribe("user=acker")
	b.waitDelivered("user/acker", 1, 1, ioTimeout)
	m1 := publishQoS(b, "acker", 1)
	if m1.err != nil || m1.ans.status != 200 || m1.ans.Delivered != 1 {
		t.Fatalf("QoS 1 publish to the online user = %v, %v; want 200 delivered 1", m1.ans, m1.err)
	}
	if f := s.message(); f.ID != m1.ans.ID {
		t.Fatalf("stream got %+v; want m1 (id %s)", f, m1.ans.ID)
	}
	if err := redisDo(cl.redis.addr(), "DEL", "pw:u:acker"); err != nil {
		t.Fatalf("DEL pw:u:acker: %v", err)
	}
	// b's cached copy of the entry is invalidated: QoS 0 pushes (probes,
	// which streams skip) answer 404 once b sees it gone.
	waitUntil(t, ioTimeout, "a QoS 0 push through b answered 404 (the directory lost the user)", func() (bool, string) {
		a, err := b.try(ioTimeout, "POST", "/pub/user/acker", `"probe"`, "Push-Event", probeEvent, "Content-Type", "application/json")
		return err == nil && a.status == 404, fmt.Sprintf("%v, %v", a, err)
	})
	m2 := publishQoS(b, "acker", 2)
	if m2.err != nil || m2.ans.status != 202 {
		t.Fatalf("QoS 1 publish while the user's entry is missing = %v, %v; want 202", m2.ans, m2.err)
	}
	m2id, _ := strconv.ParseUint(m2.ans.ID, 10, 64)
	for _, upTo := range []uint64{m2id, m2id + 1<<20} {
		want := `200 {"acked":0}`
		if upTo == m2id {
			want = `200 {"acked":1}` // m1, which the stream was sent
		}
		if got := ack(a.edge, s.key, strconv.FormatUint(upTo, 10)); got != want {
			t.Fatalf("ack of id %d (m2 or later, never sent to this connection) = %q; want %q", upTo, got, want)
		}
	}
	s.conn.Close()
	s2 := b.subscribe("user=acker")
	f := s2.message()
	if f.ID != m2.ans.ID || string(f.Data) != "2" {
		t.Fatalf("reconnected stream got %+v first; want m2 (id %s), which the ack must have left stored", f, m2.ans.ID)
	}
	if f.Resend {
		t.Errorf("m2 flagged as a resend; it was never sent")
	}
}

// redisDo sends one command to the Redis at addr and wants a non-error reply.
func redisDo(addr string, args ...string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "-") {
		return fmt.Errorf("redis: %s", strings.TrimSpace(line))
	}
	return nil
}

// TestQoS1SinceAcksOnReconnect: a stream that reconnects to the same node
// with since=<id> acknowledges what that node sent the user up to the id
// (README "Acks are cumulative over what was sent"): the message leaves
// Redis and the new stream starts after it, not with it as a resend.
func TestQoS1SinceAcksOnReconnect(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2, testNodeTTL)
	a, b := cl.nodes[0], cl.nodes[1]
	s := a.subscribe("user=resumer")
	b.waitDelivered("user/resumer", 1, 1, ioTimeout)
	var sent [2]qosPub
	for i := range sent {
		sent[i] = publishQoS(b, "resumer", i+1)
		if p := sent[i]; p.err != nil || p.ans.status != 200 || p.ans.Delivered != 1 {
			t.Fatalf("QoS 1 publish %d to the online user = %v, %v; want 200 delivered 1", i+1, p.ans, p.err)
		}
		if f := s.message(); f.ID != sent[i].ans.ID {
			t.Fatalf("stream got %+v; want message %d (id %s)", f, i+1, sent[i].ans.ID)
		}
	}
	s.conn.Close()
	s2 := a.subscribe("user=resumer&since=" + sent[0].ans.ID)
	if f := s2.message(); f.ID != sent[1].ans.ID || f.Resend {
		t.Fatalf("stream resumed from message 1 got %+v first; want message 2 (id %s), not flagged a resend (it is past since)", f, sent[1].ans.ID)
	}
	waitUntil(t, ioTimeout, "message 1 removed from Redis by the since of the reconnect", func() (bool, string) {
		n, err := redistest.Do(cl.redis.addr(), "ZCARD", queueKey("resumer"))
		return n == "1" && err == nil, fmt.Sprintf("ZCARD %s = %q, %v; want 1 (message 2)", queueKey("resumer"), n, err)
	})
}
