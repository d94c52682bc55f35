package cluster_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const lifeSecret = "cluster-lifetime-secret"

func lifeToken(t *testing.T, user string, exp int64) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": exp}).SignedString([]byte(lifeSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lastControl reads s until a control packet (protocol 3) and returns its
// line, then requires the stream to end (the control packet was its last).
func lastControl(s *stream) (string, error) {
	s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := s.body.ReadString('\n')
		if err != nil {
			return line, err
		}
		var f struct{ Protocol int }
		if json.Unmarshal([]byte(line), &f) == nil && f.Protocol == 3 {
			rest, err := io.ReadAll(s.body)
			if err != nil || len(rest) > 0 {
				return line, io.ErrUnexpectedEOF
			}
			return line, nil
		}
	}
}

// TestLifetimeCluster: on three nodes sharing a real Redis, with
// --max-conn-age 4s, every stream on every node gets the reconnect frame and
// ends; a stream whose token ends sooner gets the refresh frame and is
// closed at its exp, and its user is offline cluster-wide; the client comes
// back on another node with a new token and its cursor, and gets what was
// stored for it meanwhile.
func TestLifetimeCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second, "--max-conn-age", "4s", "--jwt-secret", lifeSecret,
		"--refresh-before", "2s", "--heartbeat", "2s")
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	long := time.Now().Add(time.Hour).Unix()
	var aged []*stream
	for _, n := range c.nodes {
		for i := range 5 {
			user := "age-" + n.id + strconv.Itoa(i)
			aged = append(aged, n.subscribe("token="+lifeToken(t, user, long)))
		}
	}
	exp := time.Now().Unix() + 3
	short := b.subscribe("token=" + lifeToken(t, "short", exp))
	first := a.pub("user/short", "while it lasts", "Push-QoS", "1")
	if first.status != 200 || first.Delivered != 1 {
		t.Fatalf("POST /pub/user/short on a = %v; want delivered 1 (on b)", first)
	}
	short.expect("user:short", `"while it lasts"`)
	line, err := lastControl(short)
	if err != nil || !strings.Contains(line, `"cmd":"refresh","exp":`+strconv.FormatInt(exp*1000, 10)) {
		t.Fatalf("short-lived token's stream: last packet %q, %v; want the refresh packet with its exp, then the end", line, err)
	}
	waitUntil(t, ioTimeout, "user short offline cluster-wide", func() (bool, string) {
		p, _ := cn.try(ioTimeout, "GET", "/presence/user/short", "") // its JSON is no publish answer
		return p.status == 200 && strings.Contains(string(p.body), `"online":false`), p.String()
	})
	stored := cn.pub("user/short", "stored meanwhile", "Push-QoS", "1")
	if stored.status != 202 {
		t.Fatalf("POST /pub/user/short on c after exp = %v; want 202 stored", stored)
	}
	back := a.subscribe("since=" + first.ID + "&token=" + lifeToken(t, "short", long))
	f := back.message()
	if f.ID == first.ID && f.Resend { // sent by b and never acknowledged: resent by a, flagged
		f = back.message()
	}
	if f.ID != stored.ID {
		t.Errorf("the client back on a with a new token and its cursor got %+v; want message %s stored meanwhile", f, stored.ID)
	}

	for _, s := range aged {
		if line, err := lastControl(s); err != nil || !strings.Contains(line, `"cmd":"reconnect"`) {
			t.Errorf("stream %s past --max-conn-age: last packet %q, %v; want the reconnect packet, then the end", s.key, line, err)
		}
	}
	closes, refreshes, expiries := 0.0, 0.0, 0.0
	for _, n := range c.nodes {
		st := n.stats()
		closes, refreshes, expiries = closes+st["max_age_closes"], refreshes+st["refreshes"], expiries+st["expiries"]
	}
	// back (started later) may be ended for its age too before this count.
	if closes < 15 || refreshes != 1 || expiries != 1 {
		t.Errorf("/stats over the nodes: max_age_closes %v, refreshes %v, expiries %v; want at least 15, 1, 1", closes, refreshes, expiries)
	}
	noRedisTrouble(t, c.nodes...)
}

// TestQoSMailboxGapCluster: user g took message 1 on node a and left;
// message 2 (Push-TTL 1, published on b) expired unacknowledged in Redis;
// message 3 is stored. Resuming on c from 1 starts with the gap frame before
// any message; resuming from 2 has none.
func TestQoSMailboxGapCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second)
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	s := a.subscribe("user=g")
	m1 := b.mustPub("user/g", "m1", 1, 1, "Push-QoS", "1")
	s.expect("user:g", `"m1"`)
	s.conn.Close()
	waitUntil(t, ioTimeout, "user g offline", func() (bool, string) {
		p := b.pub("user/g", "probe")
		return p.status == 404, p.String()
	})
	m2 := b.pub("user/g", "m2", "Push-QoS", "1", "Push-TTL", "1")
	if m2.status != 202 {
		t.Fatalf("m2 = %v; want 202", m2)
	}
	time.Sleep(1500 * time.Millisecond) // m2's TTL ends unacknowledged
	m3 := b.pub("user/g", "m3", "Push-QoS", "1")
	if m3.status != 202 {
		t.Fatalf("m3 = %v; want 202", m3)
	}

	r := cn.subscribe("user=g&since=" + m1.ID)
	r.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	first, err := r.body.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, `{"protocol":3,`) || !strings.Contains(first, `"cmd":"gap","since":"`+m1.ID+`"`) {
		t.Fatalf("resume on c from m1: first frame %q, %v; want the gap frame", first, err)
	}
	for f := r.message(); f.ID != m3.ID; f = r.message() {
		if f.ID != m1.ID || !f.Resend { // m1 was sent by a, unacknowledged there: resent, flagged
			t.Fatalf("resume on c from m1: %+v; want m1 flagged as a resend, then m3", f)
		}
	}
	r.conn.Close()
	waitUntil(t, ioTimeout, "user g offline", func() (bool, string) {
		p := b.pub("user/g", "probe")
		return p.status == 404, p.String()
	})
	// A long-poll from m1 on c: the gap packet first in "messages", then what is kept.
	resp, err := (&http.Client{Timeout: ioTimeout}).Get("http://" + cn.edge + "/sub?user=g&format=poll&since=" + m1.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var polled struct{ Messages []json.RawMessage }
	json.Unmarshal(body, &polled)
	if resp.StatusCode != 200 || len(polled.Messages) == 0 || !strings.Contains(string(polled.Messages[0]), `"cmd":"gap","since":"`+m1.ID+`"`) ||
		!strings.Contains(string(body), `"id":"`+m3.ID+`"`) {
		t.Errorf("long-poll on c from m1 = %d %s; want the gap packet first, then m3", resp.StatusCode, body)
	}
	waitUntil(t, ioTimeout, "user g offline", func() (bool, string) {
		p := b.pub("user/g", "probe")
		return p.status == 404, p.String()
	})
	whole := cn.subscribe("user=g&since=" + m2.ID)
	whole.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	if first, err := whole.body.ReadString('\n'); err != nil || strings.Contains(first, `"cmd":"gap"`) {
		t.Errorf("resume on c from m2 (the lost one): first frame %q, %v; want no gap frame", first, err)
	}
	noRedisTrouble(t, c.nodes...)
}

// TestOneGapFrameCluster: a resume on c whose topic's history (--topic-history 1) and whose
// user's QoS 1 mailbox both lost messages newer than its cursor gets one gap frame, not two:
// the topic's as it starts, then the kept topic message, then the stored one (no second gap
// frame when the mailbox's answer comes from Redis).
func TestOneGapFrameCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 30*time.Second, "--topic-history", "1")
	cn := c.nodes[2]
	m1 := cn.pub("user/h", "m1", "Push-QoS", "1")
	if m2 := cn.pub("user/h", "m2", "Push-QoS", "1", "Push-TTL", "1"); m1.status != 202 || m2.status != 202 {
		t.Fatalf("m1 = %v, m2 = %v; want 202 (stored, nobody online)", m1, m2)
	}
	time.Sleep(1500 * time.Millisecond)         // m2's TTL ends unacknowledged
	for _, body := range []string{"t1", "t2"} { // the history keeps t2: t1 is let go of
		if a := cn.pub("topic/tg", body); a.status != 200 {
			t.Fatalf("POST /pub/topic/tg %s = %v; want 200", body, a)
		}
	}
	r := cn.subscribe("user=h&topic=tg&since=" + m1.ID)
	r.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var got []string
	for len(got) < 3 {
		line, err := r.body.ReadString('\n')
		if err != nil {
			t.Fatalf("resume on c: %v after %q", err, got)
		}
		if !strings.HasPrefix(line, `{"protocol":0,`) { // heartbeats aside
			got = append(got, line)
		}
	}
	if !strings.Contains(got[0], `"cmd":"gap"`) || !strings.Contains(got[1], `"data":"t2"`) || !strings.Contains(got[2], `"id":"`+m1.ID+`"`) {
		t.Errorf("resume on c from m1: %q; want one gap frame, t2, then m1 (resent), no second gap frame", got)
	}
	noRedisTrouble(t, c.nodes...)
}
