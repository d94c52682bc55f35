package acceptance

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// pollAnswer is a long-poll answer.
type pollAnswer struct {
	status int
	body   string
	cors   string
	next   string
	msgs   []string // each message packet, times replaced by T
}

// poll sends one long-poll and waits for its answer.
func (n *node) poll(target string, hdr ...string) pollAnswer {
	n.t.Helper()
	s := n.subscribeAny(target, hdr...)
	defer s.close()
	b, err := io.ReadAll(s.resp.Body)
	if err != nil {
		n.t.Fatalf("GET %s: read body: %v", target, err)
	}
	a := pollAnswer{status: s.resp.StatusCode, body: string(b), cors: s.resp.Header.Get("Access-Control-Allow-Origin")}
	if a.status != 200 {
		return a
	}
	if ct := s.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		n.t.Errorf("GET %s: Content-Type %q; want application/json", target, ct)
	}
	var v struct {
		Messages []json.RawMessage
		Next     *string
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Next == nil || v.Messages == nil {
		n.t.Fatalf("GET %s = 200 %s; want {\"messages\":[...],\"next\":\"...\"} (%v)", target, b, err)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	if got := keysOf(keys); got != "messages,next" {
		n.t.Errorf("poll answer fields %s; want messages,next", got)
	}
	a.next = *v.Next
	for _, m := range v.Messages {
		a.msgs = append(a.msgs, normTime(n.t, string(m)))
	}
	return a
}

func TestPollTimeout204(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-timeout", "500ms")
	start := time.Now()
	a := n.poll("/sub?topic=quiet&format=poll", "Origin", "http://x.example")
	if a.status != 204 || a.body != "" {
		t.Fatalf("long-poll with nothing published = %d %q; want 204 with no body", a.status, a.body)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("204 after %v; want it after --poll-timeout 500ms", el)
	}
	if a.cors != "*" {
		t.Errorf("long-poll Access-Control-Allow-Origin = %q; want *", a.cors)
	}
}

func TestPollDeliversAndSinceCursor(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-timeout", "5s")

	// A waiting poll is answered as soon as a message comes.
	done := make(chan pollAnswer, 1)
	go func() { done <- n.poll("/sub?topic=p&user=pu&format=poll") }()
	waitFor(t, 10*time.Second, "poll not registered", func() bool {
		r := n.pub("topic/p", "first", "Push-Event", "ev")
		return r.status == 200 && strings.Contains(string(r.body), `"delivered":1`)
	})
	a := <-done
	if a.status != 200 || len(a.msgs) != 1 {
		t.Fatalf("poll = %d %s; want 200 with one message", a.status, a.body)
	}
	if !strings.HasPrefix(a.msgs[0], `{"protocol":2,"time":T,"id":"`) || !strings.HasSuffix(a.msgs[0], `","to":"topic:p","event":"ev","data":"first"}`) {
		t.Errorf("poll message = %s; want a protocol 2 packet to topic:p, event ev, data first", a.msgs[0])
	}

	// Published between polls: the next poll with since=next gets them at once.
	n.mustPub(200, "topic/p", `{"second":2}`, "Content-Type", "application/json")
	n.mustPub(200, "topic/p", "third")
	start := time.Now()
	b := n.poll("/sub?topic=p&user=pu&format=poll&since=" + a.next)
	if b.status != 200 || len(b.msgs) != 2 {
		t.Fatalf("poll since=%s = %d %s; want 200 with the two messages published between polls", a.next, b.status, b.body)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("poll with pending messages waited %v; want an immediate answer", time.Since(start))
	}
	if !strings.HasSuffix(b.msgs[0], `"to":"topic:p","data":{"second":2}}`) || !strings.HasSuffix(b.msgs[1], `"to":"topic:p","data":"third"}`) {
		t.Errorf("poll messages = %v; want second (embedded JSON) then third", b.msgs)
	}
	if b.next == a.next {
		t.Errorf("next cursor did not move: %s", b.next)
	}

	// Nothing new after the last cursor: it waits, and then gets the next one only.
	go func() { done <- n.poll("/sub?topic=p&user=pu&format=poll&since=" + b.next) }()
	time.Sleep(200 * time.Millisecond)
	n.mustPub(200, "topic/p", "fourth")
	c := <-done
	if c.status != 200 || len(c.msgs) != 1 || !strings.HasSuffix(c.msgs[0], `"data":"fourth"}`) {
		t.Fatalf("poll since=%s = %d %s; want only the fourth message", b.next, c.status, c.body)
	}
}

// TestPollStoredQoS1: a long-poll is a reconnect of its user: stored QoS 1
// messages come in its answer, and once acknowledged by since= they are not
// answered again, so the next poll waits and gets 204.
func TestPollStoredQoS1(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-timeout", "500ms")
	r := n.pub("user/q", "kept", "Push-QoS", "1")
	if r.status != 202 {
		t.Fatalf("QoS 1 push to an offline user = %d %s; want 202", r.status, r.body)
	}
	a := n.poll("/sub?user=q&format=poll")
	if a.status != 200 || len(a.msgs) != 1 || !strings.HasSuffix(a.msgs[0], `"to":"user:q","data":"kept"}`) {
		t.Errorf("first poll of user q with one stored QoS 1 message = %d %s; want 200 with that message", a.status, a.body)
	}
	if a.status != 200 {
		return
	}
	for i := 0; i < 2; i++ {
		b := n.poll("/sub?user=q&format=poll&since=" + a.next)
		if b.status != 204 {
			t.Fatalf("poll %d with since=%s and nothing newer = %d %q; want 204 after --poll-timeout (an empty 200 makes clients spin)", i, a.next, b.status, b.body)
		}
	}
}

// TestPollUserPushBetweenPolls: a QoS 0 push to a long-polling user that
// is between two polls. Whatever the answer, it must tell the truth: a 404
// ("no live connection") push must not be delivered later, and a delivered
// one must not be answered 404 (SPEC §4: never dropped silently, answers say
// what happened).
func TestPollUserPushBetweenPolls(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-timeout", "500ms")
	done := make(chan pollAnswer, 1)
	go func() { done <- n.poll("/sub?user=pu&format=poll") }()
	waitFor(t, 10*time.Second, "poll not registered", func() bool { return n.pub("user/pu", "first").status == 200 })
	a := <-done
	if a.status != 200 || len(a.msgs) != 1 {
		t.Fatalf("poll = %d %s; want one message", a.status, a.body)
	}
	r := n.pub("user/pu", "between")
	b := n.poll("/sub?user=pu&format=poll&since=" + a.next)
	delivered := strings.Contains(b.body, `"data":"between"`)
	if r.status == 404 && delivered {
		t.Errorf("push to user:pu between polls answered %d %s, but the next poll delivered it: %s", r.status, r.body, b.body)
	}
	if r.status == 200 && !delivered {
		t.Errorf("push to user:pu between polls answered %d %s, but the next poll did not deliver it: %d %s", r.status, r.body, b.status, b.body)
	}
}
