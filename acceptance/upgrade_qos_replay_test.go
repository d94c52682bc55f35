package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// TestUpgradeReplaysQoS1StoredDuringHandoff (review 7, findings 1 and 8): in a cluster, a QoS 1
// push to a user whose only stream is on node a, sent through node b while a upgrades, is
// stored in Redis and refused by a ("node upgrading"); b answers it stored. The stream moves
// to a's new process without a reconnect, so nothing else would read the store for it: the
// adopted stream holds its live messages and the new process replays what the store holds
// once it takes pushes again (mesh/resync.go), as for a reconnect. Every push answered stored
// reaches the live subscriber.
//
// go test ./acceptance/ -run TestUpgradeReplaysQoS1StoredDuringHandoff -v -args -upgrade.race=false
func TestUpgradeReplaysQoS1StoredDuringHandoff(t *testing.T) {
	redis := "redis://" + redistest.Single(t)
	dir, installed := buildInstalled(t, "v2")
	cl := []string{"--redis", redis, "--cluster-listen", "127.0.0.1:0", "--node-ttl", "15s"}
	a := startUpgradable(t, installed, nil, append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--node-id", "node-a", "--heartbeat", "2s"}, cl...)...)
	b := startNode(t, append([]string{"--node-id", "node-b"}, cl...)...)

	received := messageIDs(t, a.edge, "u1")
	time.Sleep(300 * time.Millisecond)

	client := &http.Client{Timeout: 5 * time.Second}
	var stop atomic.Bool
	type answer struct{ id, text string }
	var stored []answer // answered with stored:true
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			req, _ := http.NewRequest("POST", "http://"+b.api+"/pub/user/u1", strings.NewReader(fmt.Sprintf("m%d", i)))
			req.Header.Set("Push-QoS", "1")
			r, err := client.Do(req)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			var ans struct {
				ID     string `json:"id"`
				Stored bool   `json:"stored"`
			}
			if json.Unmarshal(body, &ans) == nil && ans.Stored && (r.StatusCode == 200 || r.StatusCode == 202) {
				stored = append(stored, answer{ans.ID, fmt.Sprintf("%d %s", r.StatusCode, strings.TrimSpace(string(body)))})
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	a.install(filepath.Join(dir, "pushwire-v2"))
	a.usr2()
	a.awaitExit0(60 * time.Second)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	<-done
	time.Sleep(3 * time.Second)
	got := map[string]bool{}
	for _, id := range received() {
		got[id] = true
	}
	var missing []answer
	for _, s := range stored {
		if !got[s.id] {
			missing = append(missing, s)
		}
	}
	t.Logf("%d QoS 1 pushes answered stored; %d not received by the live subscriber 3s later", len(stored), len(missing))
	if len(missing) > 0 {
		t.Errorf("QoS 1 pushes answered stored during the upgrade, never written to the user's live stream: %v", missing)
	}
}
