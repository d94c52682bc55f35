package acceptance

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"testing"
	"time"
)

// publishIDs publishes bodies to topic and returns their message ids.
func (n *node) publishIDs(topic string, bodies ...string) []string {
	n.t.Helper()
	var ids []string
	for _, b := range bodies {
		var id string
		json.Unmarshal(n.mustPub(200, "topic/"+topic, b)["id"], &id)
		ids = append(ids, id)
	}
	return ids
}

// TestGapSignal: with --topic-history 3 and five messages published, a stream
// resumed from the first message's id missed the second, which is no longer
// kept: it starts with the gap control frame (ndjson, sse, multipart), then
// the three kept; a resume from the second's id missed nothing kept away: no
// gap frame.
func TestGapSignal(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--topic-history", "3")
	ids := n.publishIDs("g", "m1", "m2", "m3", "m4", "m5")

	s := n.subscribe("/sub?topic=g&since=" + ids[0])
	s.packet()
	if got, want := s.packet(), `{"protocol":3,"time":T,"cmd":"gap","since":"`+ids[0]+`"}`; got != want {
		t.Errorf("ndjson resume from m1: first frame %s; want %s", got, want)
	}
	for i := 2; i < 5; i++ {
		if got := s.packet(); !strings.Contains(got, fmt.Sprintf(`"data":"m%d"`, i+1)) {
			t.Errorf("ndjson resume from m1: got %s; want m%d after the gap frame", got, i+1)
		}
	}
	s.close()

	sse := n.subscribe("/sub?topic=g&format=sse", "Last-Event-ID", ids[0])
	sse.sseEvent() // retry
	sse.sseEvent() // registered
	if got := sse.sseEvent(); len(got) != 2 || got[0] != "event: gap" || normTime(t, got[1]) != `data: {"protocol":3,"time":T,"cmd":"gap","since":"`+ids[0]+`"}` {
		t.Errorf("sse resume from m1: first event %q; want event: gap with the gap packet", got)
	}
	if got := sse.sseEvent(); fmt.Sprint(got) != fmt.Sprint([]string{"id: " + ids[2], "event: message", "data: m3"}) {
		t.Errorf("sse resume from m1: after the gap %q; want m3", got)
	}
	sse.close()

	mp := n.subscribe("/sub?topic=g&format=multipart&since=" + ids[0])
	_, params, err := mime.ParseMediaType(mp.resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		t.Fatalf("multipart Content-Type %q: %v", mp.resp.Header.Get("Content-Type"), err)
	}
	mp.part(params["boundary"]) // registered
	if p := mp.part(params["boundary"]); !strings.Contains(p.body, `"cmd":"gap","since":"`+ids[0]+`"`) || p.header["Content-Type"] != "application/json" {
		t.Errorf("multipart resume from m1: first part %+v; want the gap packet as JSON", p)
	}
	mp.close()

	// From m2: m2 was the newest let go of, so nothing after it is missing.
	ok := n.subscribe("/sub?topic=g&since=" + ids[1])
	ok.packet()
	if got := ok.packet(); !strings.Contains(got, `"data":"m3"`) {
		t.Errorf("resume from m2 (nothing missed): first frame %s; want m3, no gap frame", got)
	}
	ok.close()
}

// TestLastN: ?last=N on a first subscribe replays the newest N of each
// subscribed topic's history, in order, before live messages; bad N is 400.
func TestLastN(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--topic-history", "3")
	a := n.publishIDs("a", "a1", "a2", "a3", "a4")
	b := n.publishIDs("b", "b1")
	s := n.subscribe("/sub?topic=a&topic=b&last=2")
	s.packet()
	var got []string
	for range 3 {
		var f struct{ ID, Data string }
		if err := json.Unmarshal([]byte(s.line()), &f); err != nil {
			t.Fatalf("last=2 replay: %v", err)
		}
		got = append(got, f.ID+"="+f.Data)
	}
	// b1 was published after a4, so ids order them a3, a4, b1.
	if want := []string{a[2] + "=a3", a[3] + "=a4", b[0] + "=b1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("last=2 over topics a and b: %v; want %v", got, want)
	}
	n.mustPub(200, "topic/a", "live")
	if p := s.packet(); !strings.Contains(p, `"data":"live"`) {
		t.Errorf("after the last=2 replay: %s; want the live message", p)
	}
	s.close()

	// Ten asked, three kept (a3, a4, live): three.
	ten := n.subscribe("/sub?topic=a&last=10")
	ten.packet()
	for _, want := range []string{"a3", "a4", "live"} {
		if p := ten.packet(); !strings.Contains(p, `"data":"`+want+`"`) {
			t.Errorf("last=10 with 3 kept: %s; want %s", p, want)
		}
	}
	ten.close()

	// since wins over last: a resume replays only what came after since.
	resumed := n.subscribe("/sub?topic=a&last=10&since=" + a[3])
	resumed.packet()
	if p := resumed.packet(); !strings.Contains(p, `"data":"live"`) {
		t.Errorf("since=a4 with last=10: %s; want only what came after a4 (live)", p)
	}
	resumed.close()

	for _, bad := range []string{"x", "-1", "1.5", "99999999999"} {
		s := n.subscribeAny("/sub?topic=a&last=" + bad)
		if s.resp.StatusCode != 400 {
			t.Errorf("last=%s: %d; want 400", bad, s.resp.StatusCode)
		}
		s.close()
	}
}

// TestPollGap: with --poll-buffer 2, four messages published between two
// long-polls of a topic overflow what is kept for it: the second poll's
// answer starts with the gap packet, then the two kept; a poll that missed
// nothing has no gap packet.
func TestPollGap(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--poll-buffer", "2", "--poll-timeout", "500ms")
	done := make(chan pollAnswer, 1)
	go func() { done <- n.poll("/sub?topic=pg&format=poll") }()
	waitFor(t, 10*time.Second, "first poll answered", func() bool {
		n.mustPub(200, "topic/pg", "first")
		select {
		case a := <-done:
			done <- a
			return true
		default:
			return false
		}
	})
	a := <-done
	if a.status != 200 || len(a.msgs) == 0 {
		t.Fatalf("first poll = %d %s; want messages", a.status, a.body)
	}
	next := a.next
	// Whatever else the wait loop published after the answer is kept too: catch up first.
	if c := n.poll("/sub?topic=pg&format=poll&since=" + next); c.status == 200 {
		next = c.next
		for _, m := range c.msgs {
			if strings.Contains(m, `"cmd":"gap"`) {
				t.Errorf("catch-up poll without a missed message: %s; want no gap packet", c.body)
			}
		}
	}
	n.publishIDs("pg", "p2", "p3", "p4", "p5")
	b := n.poll("/sub?topic=pg&format=poll&since=" + next)
	want := []string{`{"protocol":3,"time":T,"cmd":"gap","since":"` + next + `"}`, `"data":"p4"`, `"data":"p5"`}
	if b.status != 200 || len(b.msgs) != 3 || b.msgs[0] != want[0] || !strings.Contains(b.msgs[1], want[1]) || !strings.Contains(b.msgs[2], want[2]) {
		t.Errorf("poll after 4 messages with --poll-buffer 2 = %d %s; want the gap packet, p4, p5", b.status, b.body)
	}
}
