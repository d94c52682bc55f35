package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpgradeCarriesIdempotencyKeys (review 7, finding 3): a standalone node keeps
// Idempotency-Keys in memory; the handoff carries them (KindIdem records), so a publisher's
// retry with the same key after SIGUSR2, within --idempotency-window, is answered as the
// duplicate it is and not delivered again (SPEC §4, §11: no duplicated frame).
//
// go test ./acceptance/ -run TestUpgradeCarriesIdempotencyKeys -v -args -upgrade.race=false
func TestUpgradeCarriesIdempotencyKeys(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "2s")

	received := messageIDs(t, u.edge, "u1")
	time.Sleep(200 * time.Millisecond)

	pub := func() string {
		req, _ := http.NewRequest("POST", "http://"+u.api+"/pub/user/u1", strings.NewReader(`"order-1"`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-1")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return fmt.Sprintf("%d %s", r.StatusCode, strings.TrimSpace(string(b)))
	}
	first := pub()
	again := pub()
	t.Logf("before the upgrade: %s; its retry: %s", first, again)
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	time.Sleep(300 * time.Millisecond)
	after := pub()
	t.Logf("the same key after the upgrade: %s", after)
	time.Sleep(500 * time.Millisecond)
	ids := received()
	if len(ids) != 1 || !strings.Contains(after, `"duplicate":true`) {
		t.Errorf("one publish with Idempotency-Key order-1, retried after SIGUSR2: the subscriber got %d messages %v; the retry was answered %s; want 1 message and duplicate:true", len(ids), ids, after)
	}
}

// messageIDs subscribes user's ndjson stream on edge and returns a function that gives the ids
// of the messages it received so far, in order.
func messageIDs(t *testing.T, edge, user string) func() []string {
	t.Helper()
	return streamField(t, edge, "user="+user, "id")
}

// streamField subscribes an ndjson stream on edge (query: the /sub query without format) and
// returns a function that gives field ("id", "to") of each message it received so far, in order.
func streamField(t *testing.T, edge, query, field string) func() []string {
	t.Helper()
	conn, err := net.Dial("tcp", edge)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /sub?%s&format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n", query)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	var mu sync.Mutex
	var got []string
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var p map[string]any
			if json.Unmarshal(sc.Bytes(), &p) != nil || p["protocol"] != float64(2) {
				continue
			}
			if v, ok := p[field].(string); ok {
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}
