package acceptance

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpgradeHoldsStreamTopicsToWhatMoves (review 7, finding 5): server-side subscribes
// (POST /subscriptions/...) used to give a stream any number of topics, while a handoff record
// carries at most handoff.MaxTopics (4,096): the loop's export stopped at that stream and every
// SIGUSR2 of the node failed while it lived. Now a stream holds at most 4,096 topics: the
// subscribe that would pass it is answered 409 and changes nothing, and the upgrade moves the
// stream with all its topics (a publish to its last topic reaches it on the same connection).
//
// go test ./acceptance/ -run TestUpgradeHoldsStreamTopicsToWhatMoves -v -args -upgrade.race=false
func TestUpgradeHoldsStreamTopicsToWhatMoves(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "2s")
	c := dial(t, u.edge)
	writeAll(t, c, "GET /sub?topic=t&format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe = %v, %v", resp, err)
	}
	key := resp.Header.Get("Push-Conn")
	subscribe := func(from, n int) (int, string) {
		var q []string
		for i := range n {
			q = append(q, fmt.Sprintf("topic=t%d", from+i))
		}
		r, err := http.Post("http://"+u.api+"/subscriptions/conn/"+key+"?"+strings.Join(q, "&"), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, strings.TrimSpace(string(b))
	}
	// t and 4,095 more: 4,096 topics, the most a stream may hold.
	for from := 0; from < 4095; from += 64 {
		if code, body := subscribe(from, min(64, 4095-from)); code != 200 {
			t.Fatalf("server-side subscribe of t%d.. = %d %s; want 200 up to 4,096 topics", from, code, body)
		}
	}
	if code, body := subscribe(4095, 2); code != 409 || !strings.Contains(body, "4096 topics") {
		t.Errorf("a server-side subscribe past 4,096 topics of one stream = %d %s; want 409 naming the bound", code, body)
	}
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	time.Sleep(300 * time.Millisecond)
	r, err := http.Post("http://"+u.api+"/pub/topic/t4094", "text/plain", strings.NewReader("after"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream with 4,096 topics, after the upgrade: %v; want the publish to t4094 on the same connection", err)
		}
		if strings.Contains(line, `"reconnect"`) {
			t.Fatalf("the stream with 4,096 topics was told to reconnect: %s", line)
		}
		if strings.Contains(line, "after") {
			break
		}
	}
}
