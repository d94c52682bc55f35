package acceptance

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The per-user connection policy (SPEC §7): --max-conns-per-user with
// --user-conn-policy refuse|oldest-out, standalone (exact).

// TestUserPolicyRefuse: with max 2 under refuse, a user's third stream is
// 409 with a JSON error before it starts, any format; another user is not
// touched; once a stream ends there is room again. 20 subscribes of one
// user at once: exactly 2 start.
func TestUserPolicyRefuse(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-conns-per-user", "2", "--user-conn-policy", "refuse")
	a := n.subscribe("/sub?user=42")
	b := n.subscribe("/sub?user=42&format=sse")
	defer b.close()
	for _, target := range []string{"/sub?user=42", "/sub?user=42&format=multipart"} {
		if status, reason := refusal(t, n, target); status != 409 || !strings.Contains(reason, "--max-conns-per-user") {
			t.Errorf("GET %s as the third stream = %d %q; want 409 naming --max-conns-per-user", target, status, reason)
		}
	}
	other := n.subscribe("/sub?user=7")
	defer other.close()
	if st := n.stats(); st["user_conns_refused"] != 2 {
		t.Errorf("/stats user_conns_refused = %v; want 2", st["user_conns_refused"])
	}
	if m := n.do("GET", "/metrics", ""); !strings.Contains(string(m.body), "\npushwire_user_conns_refused_total 2\n") {
		t.Errorf("/metrics lacks pushwire_user_conns_refused_total 2")
	}
	a.close()
	waitSubscribers(t, n, 2)
	c := n.subscribe("/sub?user=42")
	defer c.close()
	b.close()
	c.close()
	other.close()
	waitSubscribers(t, n, 0)

	// A storm of one user's subscribes at once: exactly 2 start.
	const storm = 20
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	var held []*stream
	for range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := n.subscribeAny("/sub?user=storm")
			mu.Lock()
			codes[s.resp.StatusCode]++
			if s.resp.StatusCode == 200 {
				held = append(held, s)
			} else {
				s.close()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range held {
			s.close()
		}
	}()
	if codes[200] != 2 || codes[409] != storm-2 {
		t.Errorf("%d subscribes of one user at once: statuses %v; want 2 × 200 and %d × 409", storm, codes, storm-2)
	}
}

// kickedFrame matches the kicked control frame of each format.
var kickedFrame = regexp.MustCompile(`"cmd":"kicked"`)

// TestUserPolicyOldestOut: with max 1 (the default policy), a user's new
// stream starts and the previous one gets the kicked control frame and
// ends, whatever its format: ndjson, SSE, multipart, an HTTP/2 stream.
func TestUserPolicyOldestOut(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--max-conns-per-user", "1")
	old := n.subscribe("/sub?user=42")
	old.line() // registered

	sse := n.subscribe("/sub?user=42&format=sse")
	for l := old.line(); !kickedFrame.MatchString(l); l = old.line() {
	}
	old.expectClosed(5 * time.Second)

	mp := n.subscribe("/sub?user=42&format=multipart")
	var ev []string
	for ev = sse.sseEvent(); ev[0] != "event: kicked"; ev = sse.sseEvent() {
	}
	if len(ev) != 2 || !kickedFrame.MatchString(ev[1]) {
		t.Errorf("SSE kicked event = %q; want event: kicked with the kicked packet", ev)
	}
	sse.expectClosed(5 * time.Second)

	boundary := regexp.MustCompile(`boundary=(\S+)`).FindStringSubmatch(mp.resp.Header.Get("Content-Type"))[1]
	mp.part(boundary) // registered
	h2 := openH2Sub(t, n, "/sub?user=42")
	if p := mp.part(boundary); !kickedFrame.MatchString(p.body) || p.header["Content-Type"] != "application/json" {
		t.Errorf("multipart part after the HTTP/2 stream started = %+v; want the kicked packet", p)
	}
	mp.expectClosed(5 * time.Second)

	h2.until(t, `"state":"registered"`)
	last := n.subscribe("/sub?user=42")
	defer last.close()
	h2.until(t, `"cmd":"kicked"`)
	if _, err := h2.r.ReadString('\n'); err == nil {
		t.Errorf("the kicked HTTP/2 stream carried on after its kicked frame; want its end")
	}
	waitSubscribers(t, n, 1)
	if st := n.stats(); st["user_conns_kicked"] != 4 {
		t.Errorf("/stats user_conns_kicked = %v; want 4", st["user_conns_kicked"])
	}
}

// TestUserPolicySettings: a bad --user-conn-policy or a negative
// --max-conns-per-user stops the start with exit 2 and names the setting.
func TestUserPolicySettings(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--user-conn-policy", "newest-out"}, {"--max-conns-per-user", "-1"}} {
		code, out := runOnce(t, append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}, args...)...)
		if code != 2 || !strings.Contains(out, args[0]) {
			t.Errorf("pushwire %v: exit %d, %q; want exit 2 naming %s", args, code, out, args[0])
		}
	}
}

// TestUserPolicyAcrossUpgrade: standalone, the streams an upgrade (SIGUSR2)
// hands over still count in the new process: with max 1 under refuse, a
// second stream of the user is 409 after the upgrade as before it.
func TestUserPolicyAcrossUpgrade(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--max-conns-per-user", "1", "--user-conn-policy", "refuse")
	n := &node{t: t, edge: u.edge, api: u.api, client: &http.Client{Timeout: ioTimeout}}
	s := n.subscribe("/sub?user=42")
	defer s.close()
	s.line()
	if status, _ := refusal(t, n, "/sub?user=42"); status != 409 {
		t.Fatalf("second stream before the upgrade = %d; want 409", status)
	}
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "connections": 1.0})
	if status, _ := refusal(t, n, "/sub?user=42"); status != 409 {
		t.Errorf("second stream after the upgrade = %d; want 409 (the handed-over stream counts)", status)
	}
	s.close()
	waitSubscribers(t, n, 0)
	n.subscribe("/sub?user=42").close()
}
