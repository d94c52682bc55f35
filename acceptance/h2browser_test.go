package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// tenSourcesPage opens 10 EventSources to the edge at %[1]s, reports each
// registration to /ready and, on every push, what it has so far to /result.
const tenSourcesPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pushwire: 10 EventSources</title></head>
<body><script>
const edge = %[1]q;
const sources = [];
const result = {pushes: [], states: [], errors: []};
function post(path, body) {
  return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
}
for (let i = 0; i < 10; i++) {
  const es = new EventSource(edge + "/sub?topic=ten&format=sse");
  sources.push(es);
  es.addEventListener("registered", () => post("/ready", {i}));
  es.addEventListener("message", (e) => {
    result.pushes.push(i);
    result.states = sources.map((s) => s.readyState);
    post("/result", result);
  });
}
</script></body></html>
`

type tenSourcesResult struct {
	Pushes []int
	States []int
	Errors []string
}

// TestBrowserTenEventSourcesH2: an https page opens 10 EventSources to one
// origin. Over HTTP/2 (ALPN h2) all 10 share one connection, register and
// receive a push; with Chromium held to HTTP/1.1 (--disable-http2) only 6
// connect (the browser's per-origin limit), only they receive the push, and
// the other 4 wait, still CONNECTING.
func TestBrowserTenEventSourcesH2(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required for the browser test (Debian package chromium): %v", err)
	}
	for _, c := range []struct {
		name    string
		flags   []string
		streams int
	}{{"h2", nil, 10}, {"http1.1", []string{"--disable-http2"}, 6}} {
		t.Run(c.name, func(t *testing.T) { tenSources(t, c.flags, c.streams) })
	}
}

func tenSources(t *testing.T, browserFlags []string, want int) {
	ready := make(chan int, 20)
	results := make(chan tenSourcesResult, 20)
	var edge atomic.Pointer[string]
	page := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, tenSourcesPage, *edge.Load())
		case "/ready":
			var v struct{ I int }
			b, _ := io.ReadAll(r.Body)
			json.Unmarshal(b, &v)
			ready <- v.I
			w.WriteHeader(204)
		case "/result":
			var v tenSourcesResult
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &v); err != nil {
				v.Errors = append(v.Errors, fmt.Sprintf("result %q: %v", b, err))
			}
			results <- v
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()
	n := startTLSNode(t)
	edgeURL := "https://" + n.tls
	edge.Store(&edgeURL)

	startChromium(t, page.URL+"/", append([]string{"--ignore-certificate-errors"}, browserFlags...)...)

	registered := map[int]bool{}
	for len(registered) < want {
		select {
		case i := <-ready:
			registered[i] = true
		case <-time.After(60 * time.Second):
			t.Fatalf("%d of the page's EventSources registered within 60s; want %d", len(registered), want)
		}
	}
	// The ones past the limit cannot connect while the others hold their
	// connections, so the node counts exactly want subscribers now.
	st := n.stats()
	if int(st["connections"]) != want {
		t.Fatalf("node holds %v subscribers; want %d", st["connections"], want)
	}
	wantConns := 0.0
	if want == 10 {
		wantConns = 1 // all ten on one HTTP/2 connection
	}
	if st["h2_connections"] != wantConns {
		t.Fatalf("h2_connections = %v; want %v", st["h2_connections"], wantConns)
	}
	res := n.mustPub(200, "topic/ten", "to every source")
	if got := string(res["delivered"]); got != fmt.Sprint(want) {
		t.Fatalf("delivered %s; want %d", got, want)
	}
	var r tenSourcesResult
	for len(r.Pushes) < want {
		select {
		case r = <-results:
			if len(r.Errors) > 0 {
				t.Fatalf("page errors: %v", r.Errors)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the page reported %d pushes within 60s; want %d", len(r.Pushes), want)
		}
	}
	pushed := slices.Clone(r.Pushes)
	slices.Sort(pushed)
	if len(slices.Compact(pushed)) != want {
		t.Fatalf("pushes reached sources %v; want %d distinct", r.Pushes, want)
	}
	open, connecting := 0, 0
	for _, s := range r.States {
		switch s {
		case 1:
			open++
		case 0:
			connecting++
		}
	}
	if open != want || connecting != 10-want {
		t.Fatalf("source states %v: %d OPEN, %d CONNECTING; want %d and %d", r.States, open, connecting, want, 10-want)
	}
}
