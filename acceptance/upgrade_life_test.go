package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestUpgradeKeepsTokenExpiry: a stream moved by a zero-downtime upgrade
// keeps its token's expiry: the new process sends it the refresh frame with
// the same exp and closes it then (a stream that lost its deadline would be
// held on past its token's end). No second registered frame comes.
func TestUpgradeKeepsTokenExpiry(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--heartbeat", "2s", "--jwt-secret", jwtSecret, "--refresh-before", "2s", "--max-conn-age", "1h")
	exp := time.Now().Unix() + 15
	c := dial(t, u.edge)
	writeAll(t, c, fmt.Sprintf("GET /sub?token=%s HTTP/1.1\r\nHost: x\r\n\r\n", signToken(t, jwtSecret, jwt.MapClaims{"sub": "up", "exp": exp})))
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe = %v, %v; want 200", resp, err)
	}
	body := bufio.NewReader(resp.Body)
	var packets []control
	read := func() control {
		t.Helper()
		l, err := body.ReadString('\n')
		var p control
		if err != nil || json.Unmarshal([]byte(l), &p) != nil {
			t.Fatalf("stream: %q, %v after %+v", l, err, packets)
		}
		packets = append(packets, p)
		return p
	}
	read() // registered
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	u.wantStats(t, "after the upgrade", map[string]any{"version": "v2", "upgrades": 1.0, "connections": 1.0})
	for p := read(); p.Cmd != "refresh"; p = read() {
		if p.Protocol != 0 {
			t.Fatalf("before the refresh frame the moved stream read %+v; want heartbeats only", p)
		}
	}
	if p := packets[len(packets)-1]; p.Exp != exp*1000 {
		t.Errorf("refresh frame after the upgrade %+v; want exp %d, the token's", p, exp*1000)
	}
	if l, err := body.ReadString('\n'); err == nil {
		t.Errorf("after the refresh frame the stream read %q; want its end at exp", l)
	}
	if st := u.stats(t); st["expiries"] != 1.0 || st["refreshes"] != 1.0 {
		t.Errorf("/stats of the new process: expiries %v, refreshes %v; want 1 and 1", st["expiries"], st["refreshes"])
	}
}
