package server

import (
	"io"
	"net/http"
	"testing"

	"github.com/pushwire/pushwire/cluster"
)

func getBody(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.APIAddr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// TestPresenceInMemoryCluster: nodes of one process sharing a MemStore (the
// in-memory directory reads each node's table) answer presence for the whole
// store over their query links, from any node; a node that left is not asked.
func TestPresenceInMemoryCluster(t *testing.T) {
	store := cluster.NewMemStore()
	a, b, c := memClusterNode(t, store, "a"), memClusterNode(t, store, "b"), memClusterNode(t, store, "c")
	openStreams(t, a, 1, func(int) string { return "user=u1&topic=room.1" })
	openStreams(t, b, 2, func(int) string { return "user=u1&topic=room.1&topic=room.2" })
	openStreams(t, c, 1, func(int) string { return "user=u2&topic=room.2" })
	for _, s := range []*Server{a, b, c} {
		for path, want := range map[string]string{
			"/presence/user/u1":      `{"user":"u1","online":true,"connections":3,"nodes":["a","b"]}`,
			"/presence/topic/room.2": `{"topic":"room.2","subscribers":3,"nodes":["b","c"]}`,
			"/topics?prefix=room.":   `{"topics":[{"topic":"room.1","subscribers":3},{"topic":"room.2","subscribers":3}],"truncated":false}`,
			"/topics?limit=1":        `{"topics":[{"topic":"room.1","subscribers":3}],"truncated":true}`,
		} {
			if status, body := getBody(t, s, path); status != 200 || body != want {
				t.Errorf("GET %s via node %s = %d %s; want 200 %s", path, s.ID, status, body, want)
			}
		}
	}
	c.Close()
	if status, body := getBody(t, a, "/presence/user/u2"); status != 200 || body != `{"user":"u2","online":false,"connections":0,"nodes":[]}` {
		t.Errorf("GET /presence/user/u2 after c left = %d %s; want 200, offline", status, body)
	}
}
