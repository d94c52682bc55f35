package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// browserPage subscribes with EventSource to the pushwire edge at %[1]s (a
// different origin than the page, so CORS is exercised with credentials),
// tells the test its conn key, collects three pushes, and reads the same
// stream with fetch() to see a heartbeat comment (which EventSource hides
// from scripts by design). It posts the result back to its own origin.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pushwire browser test</title></head>
<body><script>
const edge = %[1]q;
const result = {conn: "", pushes: [], ids: [], events: [], lastEventId: "", heartbeat: "", errors: [], origin: location.origin};
let sent = false;
function post(path, body) {
  return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
}
function finish() {
  if (sent || result.pushes.length < 3 || !result.heartbeat) return;
  sent = true;
  post("/result", result);
}
window.onerror = (msg) => { result.errors.push("onerror: " + msg); post("/result", result); };

const es = new EventSource(edge + "/sub?topic=browser&format=sse", {withCredentials: true});
es.addEventListener("registered", (e) => {
  const p = JSON.parse(e.data);
  result.conn = p.conn;
  post("/ready", {conn: p.conn});
});
function onPush(e) {
  result.pushes.push(e.data);
  result.ids.push(e.lastEventId);
  result.events.push(e.type);
  result.lastEventId = e.lastEventId;
  finish();
}
es.addEventListener("message", onPush);
es.addEventListener("news", onPush);
es.onerror = () => { result.errors.push("EventSource error, readyState " + es.readyState); };

(async () => {
  try {
    const resp = await fetch(edge + "/sub?topic=browser-hb&format=sse", {credentials: "include"});
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let text = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) { result.errors.push("fetch stream ended"); return; }
      text += dec.decode(value, {stream: true});
      const m = text.match(/^: hb (\d+)$/m);
      if (m) { result.heartbeat = m[1]; reader.cancel(); finish(); return; }
    }
  } catch (err) {
    result.errors.push("fetch: " + err);
    post("/result", result);
  }
})();
</script></body></html>
`

// startChromium runs headless Chromium on url with a fresh profile and the
// extra flags, until the test ends; its output is logged when the test
// failed.
func startChromium(t *testing.T, url string, extra ...string) {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}, extra...)
	browser := exec.Command(chromiumPath, append(args, url)...)
	var browserLog strings.Builder
	browser.Stdout, browser.Stderr = &browserLog, &browserLog
	if err := browser.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		browser.Process.Kill()
		browser.Wait()
		if t.Failed() {
			t.Logf("chromium output:\n%s", browserLog.String())
		}
	})
}

// browserResult is what the page posts back.
type browserResult struct {
	Conn        string
	Pushes      []string
	IDs         []string
	Events      []string
	LastEventID string
	Heartbeat   string
	Errors      []string
	Origin      string
}

// TestBrowserEventSource runs headless Chromium on a page that subscribes to
// pushwire with EventSource, cross-origin, and reports what it received.
func TestBrowserEventSource(t *testing.T) { browserEventSource(t, false) }

// TestBrowserEventSourceTLS is the same over --tls-listen (https, a test certificate
// accepted with --ignore-certificate-errors).
func TestBrowserEventSourceTLS(t *testing.T) { browserEventSource(t, true) }

func browserEventSource(t *testing.T, overTLS bool) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required for the browser test (Debian package chromium): %v", err)
	}
	ready := make(chan string, 1)
	results := make(chan browserResult, 1)
	// edge is set once the node runs, after the page server has started; the
	// handler reads it when Chromium asks, which the race detector cannot see
	// is later, so it goes through an atomic.
	var edge atomic.Pointer[string]
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, browserPage, *edge.Load())
		case "/ready", "/result":
			b, _ := io.ReadAll(r.Body)
			if r.URL.Path == "/ready" {
				var v struct{ Conn string }
				json.Unmarshal(b, &v)
				select {
				case ready <- v.Conn:
				default:
				}
			} else {
				var v browserResult
				if err := json.Unmarshal(b, &v); err != nil {
					v.Errors = append(v.Errors, fmt.Sprintf("result %q: %v", b, err))
				}
				select {
				case results <- v:
				default:
				}
			}
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()

	flags := []string{"--heartbeat", "1s", "--allowed-origins", page.URL}
	var n *node
	var edgeURL string
	var extra []string
	if overTLS {
		tn := startTLSNode(t, flags...)
		n, edgeURL = tn.node, "https://"+tn.tls
		extra = append(extra, "--ignore-certificate-errors")
	} else {
		n = startNode(t, flags...)
		edgeURL = "http://" + n.edge
	}
	edge.Store(&edgeURL)

	startChromium(t, page.URL+"/", extra...)

	var key string
	select {
	case key = <-ready:
	case r := <-results:
		t.Fatalf("page failed before registering: %+v", r)
	case <-time.After(60 * time.Second):
		t.Fatalf("the page's EventSource did not register within 60s")
	}
	checkConnKey(t, key)

	pushes := []struct {
		path, body string
		hdr        []string
	}{
		{"conn/" + key, "first", nil},
		{"topic/browser", `{"second":2}`, []string{"Content-Type", "application/json"}},
		{"topic/browser", "third\nline", []string{"Push-Event", "news"}},
	}
	var ids []string
	for _, p := range pushes {
		res := n.mustPub(200, p.path, p.body, p.hdr...)
		var id string
		json.Unmarshal(res["id"], &id)
		ids = append(ids, id)
	}

	var r browserResult
	select {
	case r = <-results:
	case <-time.After(60 * time.Second):
		t.Fatalf("the page reported nothing within 60s")
	}
	if len(r.Errors) > 0 {
		t.Errorf("page errors: %q", r.Errors)
	}
	if r.Conn != key {
		t.Errorf("page conn %q; want %q", r.Conn, key)
	}
	want := []string{"first", `{"second":2}`, "third\nline"}
	if fmt.Sprintf("%q", r.Pushes) != fmt.Sprintf("%q", want) {
		t.Errorf("EventSource pushes = %q; want %q", r.Pushes, want)
	}
	if fmt.Sprint(r.IDs) != fmt.Sprint(ids) {
		t.Errorf("EventSource lastEventId per push = %v; want %v", r.IDs, ids)
	}
	if fmt.Sprint(r.Events) != "[message message news]" {
		t.Errorf("EventSource event types = %v; want [message message news]", r.Events)
	}
	if r.Heartbeat == "" {
		t.Errorf("the page saw no heartbeat")
	} else {
		checkUnixMs(t, r.Heartbeat)
	}
	t.Logf("browser at %s got %q with ids %v and heartbeat %s", r.Origin, r.Pushes, r.IDs, r.Heartbeat)
}
