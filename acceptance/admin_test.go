package acceptance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		r := n.do("GET", path, "")
		if r.status != 200 {
			t.Errorf("GET %s = %d %s; want 200", path, r.status, r.body)
		}
	}
	if r := n.do("GET", "/nope", ""); r.status != 404 {
		t.Errorf("GET /nope = %d; want 404", r.status)
	}
	// Admin answers on the api listener, not the edge.
	out, _ := rawExchange(t, n.edge, "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
	if statusOf(out) != 404 {
		t.Errorf("GET /stats on the edge = %q; want 404", firstLine(out))
	}
	out, _ = rawExchange(t, n.edge, "POST /pub/all HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx", 2*time.Second)
	if statusOf(out) != 404 {
		t.Errorf("POST /pub/all on the edge = %q; want 404 (publishing is on the api listener)", firstLine(out))
	}
}

func TestStatsFields(t *testing.T) {
	t.Parallel()
	n := startNode(t, "--node-id", "node-a")
	st := n.stats()
	for _, f := range []string{"connections", "users", "topics", "messages_in", "messages_out", "forwards", "drops"} {
		v, ok := st[f]
		if !ok {
			t.Errorf("/stats has no numeric field %q", f)
		} else if v != 0 {
			t.Errorf("/stats %s = %v on a fresh node; want 0", f, v)
		}
	}
	r := n.do("GET", "/stats", "")
	var node struct{ Node string }
	json.Unmarshal(r.body, &node)
	if node.Node != "node-a" {
		t.Errorf("/stats node = %q; want node-a (--node-id)", node.Node)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("/stats Content-Type %q; want application/json", ct)
	}

	a := n.subscribe("/sub?user=u1&topic=x&topic=y")
	defer a.close()
	b := n.subscribe("/sub?user=u2&topic=x")
	defer b.close()
	c := n.subscribe("/sub?topic=z")
	defer c.close()
	n.mustPub(200, "topic/x", "1")    // 2 out
	n.mustPub(200, "all", "2")        // 3 out
	n.mustPub(200, "user/u1", "3")    // 1 out
	n.mustPub(200, "topic/none", "4") // 0 out
	for _, s := range []*stream{a, b, c} {
		s.packet()
	}
	for _, s := range []*stream{a, b} {
		s.packet()
		s.packet()
	}
	a.packet()
	c.packet()
	st = n.stats()
	want := map[string]float64{"connections": 3, "users": 2, "topics": 3, "messages_in": 4, "messages_out": 6, "forwards": 0, "drops": 0}
	for f, w := range want {
		if st[f] != w {
			t.Errorf("/stats %s = %v; want %v", f, st[f], w)
		}
	}
}

func TestMetricsPrometheusText(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?topic=m&user=mu")
	defer s.close()
	s.packet()
	for i := 0; i < 3; i++ {
		n.mustPub(200, "topic/m", fmt.Sprint(i))
		s.packet()
	}
	m := n.scrape() // Prometheus's own text parser (metrics_test.go)
	st := n.stats()
	// The metrics agree with /stats for the counts both show.
	for stat, metric := range map[string]string{"connections": "pushwire_connections", "users": "pushwire_users", "topics": "pushwire_topics",
		"messages_in": "pushwire_messages_in_total", "messages_out": "pushwire_messages_out_total"} {
		v, ok := m.Value(metric)
		if !ok {
			t.Errorf("/metrics has no %s", metric)
			continue
		}
		if v != st[stat] {
			t.Errorf("/metrics %s = %v; /stats %s = %v", metric, v, stat, st[stat])
		}
	}
}

func TestConnAdmin(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	s := n.subscribe("/sub?user=adm&topic=t1&topic=t2&format=sse")
	r := n.do("GET", "/conn/"+s.key, "")
	if r.status != 200 {
		t.Fatalf("GET /conn/%s = %d %s; want 200", s.key, r.status, r.body)
	}
	var info struct {
		Conn   string
		User   string
		Topics []string
		Format string
	}
	if err := json.Unmarshal(r.body, &info); err != nil {
		t.Fatalf("GET /conn body %q: %v", r.body, err)
	}
	if info.Conn != s.key || info.User != "adm" || fmt.Sprint(info.Topics) != "[t1 t2]" {
		t.Errorf("GET /conn/%s = %s; want conn %s, user adm, topics [t1 t2]", s.key, r.body, s.key)
	}
	if info.Format != "sse" {
		t.Errorf("GET /conn format = %q; want sse", info.Format)
	}
	if r := n.do("GET", "/conn/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""); r.status != 404 {
		t.Errorf("GET /conn/<unknown> = %d; want 404", r.status)
	}
	if r := n.do("DELETE", "/conn/"+s.key, ""); r.status/100 != 2 {
		t.Fatalf("DELETE /conn/%s = %d %s; want 2xx", s.key, r.status, r.body)
	}
	// The stream's last event is the kicked control frame (SPEC §3), after
	// what it was sent before (the registered event).
	var last []string
	for i := 0; i < 3; i++ {
		if last = s.sseEvent(); len(last) > 0 && last[0] == "event: kicked" {
			break
		}
	}
	if len(last) != 2 || last[0] != "event: kicked" || !regexp.MustCompile(`^data: \{"protocol":3,"time":\d+,"cmd":"kicked"\}$`).MatchString(last[1]) {
		t.Errorf("the kicked stream's last event = %q; want event: kicked with the kicked packet", last)
	}
	s.expectClosed(5 * time.Second)
	if r := n.do("GET", "/conn/"+s.key, ""); r.status != 404 {
		t.Errorf("GET /conn/<kicked> = %d; want 404", r.status)
	}
	if r := n.pub("conn/"+s.key, "x"); r.status != 404 {
		t.Errorf("POST /pub/conn/<kicked> = %d; want 404", r.status)
	}
	if r := n.do("DELETE", "/conn/"+s.key, ""); r.status != 404 {
		t.Errorf("DELETE /conn/<kicked> again = %d; want 404", r.status)
	}
	if st := n.stats(); st["connections"] != 0 || st["users"] != 0 || st["topics"] != 0 {
		t.Errorf("/stats after kick = %v; want no connections, users, topics", st)
	}
}

func TestPprof(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	r := n.do("GET", "/debug/pprof/", "")
	if r.status != 200 || !strings.Contains(string(r.body), "goroutine") {
		t.Errorf("GET /debug/pprof/ = %d (%d bytes); want 200 with the profile index", r.status, len(r.body))
	}
	r = n.do("GET", "/debug/pprof/goroutine?debug=1", "")
	if r.status != 200 || !strings.Contains(string(r.body), "goroutine profile:") {
		t.Errorf("GET /debug/pprof/goroutine?debug=1 = %d; want 200 with a goroutine profile", r.status)
	}
	r = n.do("GET", "/debug/pprof/heap", "")
	if r.status != 200 || len(r.body) == 0 {
		t.Errorf("GET /debug/pprof/heap = %d (%d bytes); want 200 with a profile", r.status, len(r.body))
	}
	// pprof is not on the edge.
	out, _ := rawExchange(t, n.edge, "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2*time.Second)
	if statusOf(out) == 200 {
		t.Errorf("GET /debug/pprof/ on the edge = 200; want it only on the api listener")
	}
}
