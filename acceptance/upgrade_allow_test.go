package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpgradeCarriesAllowedPatterns (review 7, finding 4): the topic patterns a token allowed a
// stream move with it (the conn record's allowed trailer), so a server-side subscribe that
// the token allows is answered 200 before SIGUSR2 and after it, for the very same stream.
//
// go test ./acceptance/ -run TestUpgradeCarriesAllowedPatterns -v -args -upgrade.race=false
func TestUpgradeCarriesAllowedPatterns(t *testing.T) {
	dir, installed := buildInstalled(t, "v2")
	u := startUpgradable(t, installed, nil, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--heartbeat", "2s", "--jwt-secret", jwtSecret)
	c := dial(t, u.edge)
	writeAll(t, c, fmt.Sprintf("GET /sub?token=%s&topic=news.a HTTP/1.1\r\nHost: x\r\n\r\n", signToken(t, jwtSecret, validClaims("42", "news.*"))))
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe = %v, %v; want 200", resp, err)
	}
	key := resp.Header.Get("Push-Conn")
	sub := func(topic string) string {
		r, err := http.Post("http://"+u.api+"/subscriptions/conn/"+key+"?topic="+topic, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return fmt.Sprintf("%d %s", r.StatusCode, strings.TrimSpace(string(b)))
	}
	before := sub("news.b")
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	time.Sleep(300 * time.Millisecond)
	after := sub("news.c")
	t.Logf("POST /subscriptions/conn/<key>?topic=news.b before SIGUSR2: %s; ?topic=news.c after: %s", before, after)
	var a struct{ Changed int }
	if !strings.HasPrefix(after, "200 ") || json.Unmarshal([]byte(after[4:]), &a) != nil || a.Changed != 1 {
		t.Errorf("a topic the stream's token allows (news.*) is refused after the upgrade: %s (before: %s)", after, before)
	}
}
