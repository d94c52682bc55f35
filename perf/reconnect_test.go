package perf

import "testing"

// The reopening request names the edge dialed, the user and the extra topic, and carries
// the newest SSE id as Last-Event-ID, as EventSource does.
func TestClusterSubscribeRequest(t *testing.T) {
	t.Parallel()
	w := &worker{cfg: WorkerConfig{
		Target: Target{Kind: KindPushwire, Edge: "10.0.0.10:8080", Format: FormatSSE},
		Prefix: "u", From: 5, Topic: "all",
		Reconnect: &Reconnect{Edges: []string{"10.0.0.10:8080", "10.0.0.11:8080"}},
	}, conns: make([]wconn, 2)}
	got := string(w.appendClusterSubscribe(nil, 0))
	want := "GET /sub?format=sse&user=u5&topic=all HTTP/1.1\r\nHost: 10.0.0.10:8080\r\nAccept: text/event-stream\r\n\r\n"
	if got != want {
		t.Fatalf("first subscribe:\n%q\nwant\n%q", got, want)
	}
	w.conns[1].cursor, w.conns[1].edge = 1518395816123456789, 2
	got = string(w.appendClusterSubscribe(nil, 1))
	want = "GET /sub?format=sse&user=u6&topic=all HTTP/1.1\r\nHost: 10.0.0.11:8080\r\nAccept: text/event-stream\r\nLast-Event-ID: 1518395816123456789\r\n\r\n"
	if got != want {
		t.Fatalf("reopening:\n%q\nwant\n%q", got, want)
	}
}

// Streams lost on one edge reopen evenly over the others, never on the lost one, and a
// stream refused again and again tries each of the others in turn.
func TestNextEdgeSpreadsAndRotates(t *testing.T) {
	t.Parallel()
	edges := []string{"a:1", "b:1", "c:1", "d:1", "e:1"}
	w := &worker{cfg: WorkerConfig{Target: Target{Edge: "a:1"}, Reconnect: &Reconnect{Edges: edges}},
		conns: make([]wconn, 4000)}
	count := map[string]int{}
	for i := range w.conns {
		w.conns[i].lost = 0 // Target.Edge, "a:1"
		count[w.edgeAddr(w.nextEdge(i))]++
	}
	for _, e := range edges[1:] {
		if count[e] != 1000 {
			t.Errorf("%d streams to %s; want 1000 (counts %v)", count[e], e, count)
		}
	}
	if count["a:1"] != 0 {
		t.Errorf("%d streams sent back to the edge they were lost on", count["a:1"])
	}
	c := &w.conns[7]
	c.lost, c.tries = 3, 0 // lost on edges[2], "c:1"
	seen := map[string]bool{}
	for range 4 {
		seen[w.edgeAddr(w.nextEdge(7))] = true
	}
	if len(seen) != 4 || seen["c:1"] {
		t.Errorf("four tries of one stream went to %v; want each of the four other edges once", seen)
	}
}
