package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/internal/nodetest"
)

// The in-memory directory runs the cluster's code paths without Redis:
// nodes of one process that share a cluster.MemStore find each other's
// users, topics and conn keys through it and forward over real links.

type pubAnswer struct {
	Status    int
	Delivered int    `json:"delivered"`
	Nodes     int    `json:"nodes"`
	Error     string `json:"error"`
}

func publishTo(t *testing.T, s *Server, path string) pubAnswer {
	t.Helper()
	resp, err := http.Post("http://"+s.APIAddr().String()+path, "application/json", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	a := pubAnswer{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST %s: answer: %v", path, err)
	}
	return a
}

func memClusterNode(t *testing.T, store *cluster.MemStore, id string) *Server {
	return testNode(t, func(c *Config) {
		c.NodeID, c.MemStore, c.ClusterListen = id, store, "127.0.0.1:0"
	})
}

func TestInMemoryClusterRoutesAcrossNodes(t *testing.T) {
	store := cluster.NewMemStore()
	a, b, c := memClusterNode(t, store, "a"), memClusterNode(t, store, "b"), memClusterNode(t, store, "c")
	onB := openStreams(t, b, 2, func(i int) string { return []string{"user=u1", "topic=t"}[i] })
	onC := openStreams(t, c, 1, func(int) string { return "user=u1&topic=t" })
	want := func(path string, status, delivered, nodes int) {
		t.Helper()
		got := publishTo(t, a, path)
		if got.Status != status || got.Delivered != delivered || got.Nodes != nodes {
			t.Errorf("POST %s via a = %+v; want status %d, delivered %d, nodes %d", path, got, status, delivered, nodes)
		}
	}
	want("/pub/user/u1", 200, 2, 2)
	want("/pub/topic/t", 200, 2, 2)
	want("/pub/conn/"+onC[0].key, 200, 1, 1)
	want("/pub/all", 200, 3, 2)
	want("/pub/user/nobody", 404, 0, 0)
	// Each push above reached every subscriber it named, through the links.
	nodetest.WaitFor(t, "2 messages on b's user stream", func() bool { return onB[0].messages.Load() == 2 })
	nodetest.WaitFor(t, "2 messages on b's topic stream", func() bool { return onB[1].messages.Load() == 2 })
	nodetest.WaitFor(t, "4 messages on c's stream", func() bool { return onC[0].messages.Load() == 4 })

	c.Close() // leaves the store: its users and keys are nowhere now
	want("/pub/conn/"+onC[0].key, 404, 0, 0)
	want("/pub/user/u1", 200, 1, 1)
	if got := a.snapshot().Forwards; got == 0 {
		t.Errorf("node a forwarded %d pushes; want them counted", got)
	}
}

func TestStandaloneIsAloneInItsDirectory(t *testing.T) {
	s := testNode(t, nil)
	subs := openStreams(t, s, 1, func(int) string { return "user=u1" })
	if got := publishTo(t, s, "/pub/user/u1"); got.Status != 200 || got.Delivered != 1 || got.Nodes != 1 {
		t.Errorf("POST /pub/user/u1 = %+v; want 200, delivered 1, nodes 1", got)
	}
	// A key naming another node: nobody holds it, and no router was needed
	// to find that out.
	other := subs[0].key[:strings.LastIndexByte(subs[0].key, '.')] + ".elsewhere"
	if got := publishTo(t, s, "/pub/conn/"+other); got.Status != 404 {
		t.Errorf("POST /pub/conn/<key of another node> = %+v; want 404", got)
	}
	if !s.Cluster.Alone() {
		t.Error("a standalone node's directory names other nodes")
	}
	if n := s.Cluster.Router.Workers(); n != 0 {
		t.Errorf("a standalone node runs %d router goroutines; want none", n)
	}
	nodetest.WaitFor(t, fmt.Sprint("the message on the stream"), func() bool { return subs[0].messages.Load() == 1 })
}
