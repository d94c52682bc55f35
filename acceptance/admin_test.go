package acceptance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
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

// promSample is one sample line of the Prometheus text format.
var (
	promName   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promSample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)( -?\d+)?$`)
	promLabels = regexp.MustCompile(`^\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\}$`)
)

// parseProm checks text against the Prometheus text exposition format 0.0.4
// and returns each unlabelled sample's value by name.
func parseProm(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	typed := map[string]string{}
	sampled := map[string]bool{}
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("/metrics does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || !promName.MatchString(f[2]) {
				t.Errorf("/metrics line %d %q: bad TYPE", i+1, line)
				continue
			}
			switch f[3] {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				t.Errorf("/metrics line %d: unknown type %q", i+1, f[3])
			}
			if _, dup := typed[f[2]]; dup {
				t.Errorf("/metrics line %d: second TYPE for %s", i+1, f[2])
			}
			if sampled[f[2]] {
				t.Errorf("/metrics line %d: TYPE for %s after its samples", i+1, f[2])
			}
			typed[f[2]] = f[3]
		case strings.HasPrefix(line, "# HELP "):
			f := strings.SplitN(line, " ", 4)
			if len(f) < 3 || !promName.MatchString(f[2]) {
				t.Errorf("/metrics line %d %q: bad HELP", i+1, line)
			}
		case strings.HasPrefix(line, "#"):
		default:
			m := promSample.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("/metrics line %d %q: not a sample", i+1, line)
				continue
			}
			if m[2] != "" && !promLabels.MatchString(m[2]) {
				t.Errorf("/metrics line %d %q: bad labels", i+1, line)
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Errorf("/metrics line %d %q: value %q: %v", i+1, line, m[3], err)
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
			sampled[m[1]], sampled[base] = true, true
			if typed[m[1]] == "counter" && v < 0 {
				t.Errorf("/metrics counter %s = %v", m[1], v)
			}
			if m[2] == "" {
				out[m[1]] = v
			}
		}
	}
	return out
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
	r := n.do("GET", "/metrics", "")
	if r.status != 200 {
		t.Fatalf("GET /metrics = %d", r.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q; want text/plain; version=0.0.4", ct)
	}
	m := parseProm(t, string(r.body))
	if len(m) == 0 {
		t.Fatalf("/metrics has no samples:\n%s", r.body)
	}
	st := n.stats()
	// The metrics agree with /stats for the counts both show.
	for stat, metric := range map[string]string{"connections": "pushwire_connections", "users": "pushwire_users", "topics": "pushwire_topics",
		"messages_in": "pushwire_messages_in_total", "messages_out": "pushwire_messages_out_total"} {
		v, ok := m[metric]
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
